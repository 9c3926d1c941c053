package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"
)

// api is the generator's GraphQL-over-HTTP client: one bounded keep-alive connection pool
// shared by every node, as one browser would not, but as a school's worth of them look to the
// server.
type api struct {
	client *http.Client
	url    string
	key    string
	errors *counts
	// answers, when set, keeps the size of the answers to some operations.
	answers answerSizes
}

func newAPI(url, key string, idle int, errs *counts) *api {
	tr := &http.Transport{
		Proxy:               nil, // loopback only, never through a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        idle,
		MaxIdleConnsPerHost: idle,
		// Requests beyond this wait for a connection instead of opening more: an overloaded
		// server must not push the generator past its open-file limit.
		MaxConnsPerHost:    idle,
		IdleConnTimeout:    90 * time.Second,
		DisableCompression: true,
	}
	return &api{client: &http.Client{Transport: tr, Timeout: 15 * time.Second}, url: url, key: key, errors: errs}
}

// close drops the pool's idle connections.
func (a *api) close() {
	a.client.CloseIdleConnections()
}

type gqlRequest struct {
	OperationName string `json:"operationName"`
	Variables     any    `json:"variables"`
	Query         string `json:"query"`
}

type gqlError struct {
	ErrorType string `json:"errorType"`
	Message   string `json:"message"`
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

var (
	dataPrefix = []byte(`{"data":`)
	errorsKey  = []byte(`"errors"`)
)

// maxResponse bounds what the generator reads of one response.
const maxResponse = 16 << 20

// responseBufs holds read buffers between responses: a classroom's listGroupStatuses is
// ~45 KB, hundreds a second at ×10, and io.ReadAll grew a new buffer for each, about twice
// its size in all.
var responseBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// call sends one operation as the editor does and decodes its data into out, if out is not
// nil. The outcome says whether the server applied it; every failure is also counted by
// operation, HTTP status and errorType. The error is nil when the operation succeeded and its
// data decoded.
func (a *api) call(ctx context.Context, op, doc string, vars, out any) (mutationOutcome, error) {
	body, err := json.Marshal(gqlRequest{OperationName: op, Variables: vars, Query: doc})
	if err != nil {
		return outcomeFailed, fmt.Errorf("%s: encode request: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.url, bytes.NewReader(body))
	if err != nil {
		return outcomeFailed, fmt.Errorf("%s: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "*/*")
	req.Header.Set("X-Api-Key", a.key)
	req.Header.Set("X-Amz-User-Agent", "aws-amplify/2.0.8 js")
	resp, err := a.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			a.errors.add(op + ": transport " + transportProblem(err))
		}
		return outcomeUnknown, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	buf := responseBufs.Get().(*bytes.Buffer)
	defer func() {
		buf.Reset()
		responseBufs.Put(buf)
	}()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxResponse))
	raw := buf.Bytes()
	if err != nil {
		if ctx.Err() == nil {
			a.errors.add(op + ": transport " + transportProblem(err))
		}
		return outcomeUnknown, fmt.Errorf("%s: read response: %w", op, err)
	}
	if a.answers != nil && resp.StatusCode == http.StatusOK {
		a.answers.add(op, len(raw))
	}
	if out == nil && resp.StatusCode == http.StatusOK && bytes.HasPrefix(raw, dataPrefix) && !bytes.Contains(raw, errorsKey) {
		// Success, and nothing to decode: meshd answers {"data":…} without an errors key.
		// Anything else takes the full decode below.
		return outcomeAcked, nil
	}
	var res gqlResponse
	decodeErr := json.Unmarshal(raw, &res)
	switch {
	case resp.StatusCode != http.StatusOK:
		kind := "unparsable body"
		if decodeErr == nil && len(res.Errors) > 0 {
			kind = orValidation(res.Errors[0].ErrorType)
		}
		a.errors.add(fmt.Sprintf("%s: HTTP %d %s", op, resp.StatusCode, kind))
		return outcomeFailed, fmt.Errorf("%s: HTTP %d: %s", op, resp.StatusCode, bytes.TrimSpace(raw))
	case decodeErr != nil:
		a.errors.add(op + ": HTTP 200 unparsable body")
		return outcomeUnknown, fmt.Errorf("%s: decode response: %w", op, decodeErr)
	case len(res.Errors) > 0:
		a.errors.add(fmt.Sprintf("%s: HTTP 200 %s", op, orValidation(res.Errors[0].ErrorType)))
		return outcomeFailed, fmt.Errorf("%s: %s: %s", op, res.Errors[0].ErrorType, res.Errors[0].Message)
	}
	if out != nil {
		if err := json.Unmarshal(res.Data, out); err != nil {
			a.errors.add(op + ": HTTP 200 unexpected data")
			return outcomeAcked, fmt.Errorf("%s: decode data: %w", op, err)
		}
	}
	return outcomeAcked, nil
}

// orValidation names an error without errorType: AppSync sends none for document validation.
func orValidation(errorType string) string {
	if errorType == "" {
		return "validation error"
	}
	return errorType
}

// transportProblem names a failed request's cause in a few words.
func transportProblem(err error) string {
	var netErr net.Error
	switch {
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local port"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "EOF"
	}
	return "error"
}
