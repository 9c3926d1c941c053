package gql

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/smalruby/meshd/broker"
	"github.com/smalruby/meshd/gql/plan"
)

// unparseable is the message of a request body that is not a GraphQL request.
const unparseable = "Unable to parse GraphQL query."

// request is a GraphQL request body.
type request struct {
	Query         string `json:"query"`
	OperationName string `json:"operationName"`
	// RawVariables are the variables as sent; bindVariables measures them and decodes the
	// ones the document names into Variables, or binds them into args.
	RawVariables json.RawMessage `json:"variables"`
	Variables    map[string]any  `json:"-"`
	// sent, args and argsOf are set when bindVariables bound the variables straight into
	// the arguments of plan argsOf: Variables is then decoded from sent only when needed.
	sent   []plan.Variable
	args   *plan.Args
	argsOf *plan.Plan
}

// variables are the request's decoded variables, decoding them now when they were bound
// straight into a plan's arguments.
func (r *request) variables() map[string]any {
	if r.args == nil {
		return r.Variables
	}
	// BindJSON accepted the text, so it decodes.
	vars, _ := decodeVariables(r.sent)
	return vars
}

// response is a GraphQL response body.
type response struct {
	Data   json.RawMessage `json:"data"`
	Errors []Error         `json:"errors,omitempty"`
	// planned says that Data is a plan's answer, whose buffer may be recycled once written.
	planned bool
}

// contentTypeJSON and anyOrigin are header values every answer sets, shared rather than
// allocated per answer (net/http only reads them; Header.Add would copy a full slice).
var contentTypeJSON, anyOrigin = []string{"application/json; charset=UTF-8"}, []string{"*"}

// dataOpen and dataClose wrap a successful answer's data.
var dataOpen, dataClose = []byte(`{"data":`), []byte(`}`)

// ServeHTTP answers POST and GET /graphql, and CORS preflights.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.cors(w, r) {
		return
	}
	switch r.Method {
	case http.MethodPost, http.MethodGet:
	default:
		w.Header().Set("Allow", "GET, POST, OPTIONS")
		writeTransportError(w, http.StatusMethodNotAllowed, typeMethodNotAllowed, "Method "+r.Method+" is not allowed; use POST.")
		return
	}
	if !s.authorize(apiKey(r.Header), "http", s.ClientIP(r.RemoteAddr, r.Header.Get("X-Forwarded-For"))) {
		w.Header().Set("x-amzn-ErrorType", typeUnauthorized)
		writeTransportError(w, http.StatusUnauthorized, typeUnauthorized, "You are not authorized to make this call.")
		return
	}
	req, status, errType, msg := s.decode(w, r)
	if status != 0 {
		writeTransportError(w, status, errType, msg)
		return
	}
	if refused, malformed := s.bindVariables(&req); malformed {
		writeTransportError(w, http.StatusBadRequest, typeMalformedRequest, unparseable)
		return
	} else if refused != nil {
		writeJSON(w, http.StatusOK, response{Data: jsonNull, Errors: []Error{*refused}})
		return
	}
	view := viewFull
	if r.Method == http.MethodGet {
		view = viewQuery
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.RequestTimeout)
	defer cancel()
	ctx = withClientIP(ctx, s.ClientIP(r.RemoteAddr, r.Header.Get("X-Forwarded-For")))
	out := s.run(ctx, view, req)
	for _, e := range out.Errors {
		level := slog.LevelDebug // a client's mistake or a rule, answered in the response
		if e.ErrorType == string(broker.InternalError) {
			level = slog.LevelError
		}
		s.log.Log(r.Context(), level, "request error", "errorType", e.ErrorType, "message", e.Message, "path", e.Path)
	}
	if len(out.Errors) == 0 {
		// graphql-go's data is compact JSON already; re-encoding it would only copy and
		// re-validate every byte, and net/http's buffer joins the three writes.
		w.Header()["Content-Type"] = contentTypeJSON
		_, _ = w.Write(dataOpen)
		_, _ = w.Write(out.Data)
		_, _ = w.Write(dataClose)
		if out.planned {
			plan.Recycle(out.Data)
		}
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// decode reads a request from the body (POST) or the query string (GET); a non-zero status
// says why it could not.
func (s *Server) decode(w http.ResponseWriter, r *http.Request) (req request, status int, errType, msg string) {
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		req.Query, req.OperationName = q.Get("query"), q.Get("operationName")
		if v := q.Get("variables"); v != "" {
			if !json.Valid([]byte(v)) {
				return req, http.StatusBadRequest, typeMalformedRequest, unparseable
			}
			req.RawVariables = json.RawMessage(v)
		}
		if req.Query == "" {
			return req, http.StatusBadRequest, typeMalformedRequest, unparseable
		}
		return req, 0, "", ""
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes), r.ContentLength)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return req, http.StatusRequestEntityTooLarge, typePayloadTooLarge, "Request body is larger than the limit of " + strconv.FormatInt(s.cfg.MaxRequestBytes, 10) + " bytes."
	case err != nil:
		return req, http.StatusBadRequest, typeMalformedRequest, "Request body could not be read."
	case len(bytes.TrimSpace(body)) == 0:
		return req, http.StatusBadRequest, typeMalformedRequest, "Request body is empty."
	}
	raw, ok := s.readRequestBody(body)
	if !ok || raw.Query == nil || strings.TrimSpace(*raw.Query) == "" {
		return req, http.StatusBadRequest, typeMalformedRequest, unparseable
	}
	req.Query = *raw.Query
	if raw.OperationName != nil {
		req.OperationName = *raw.OperationName
	}
	req.RawVariables = raw.Variables
	return req, 0, "", ""
}

// maxBodyHint bounds the room made for a body before it arrives: a client announcing more
// gets more room as its bytes come in.
const maxBodyHint = 64 << 10

// readBody reads a body whole, as io.ReadAll does, starting with room for the length the
// request announced (up to maxBodyHint) instead of growing a buffer five times for an
// editor's request of a few KB.
func readBody(r io.Reader, announced int64) ([]byte, error) {
	b := make([]byte, 0, max(512, min(announced, maxBodyHint)+1))
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// apiKey finds the API key of a request (header names are case-insensitive).
func apiKey(h http.Header) string {
	return h.Get("X-Api-Key")
}

// cors sets the CORS headers and answers preflights; false means the response is written.
func (s *Server) cors(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	h := w.Header()
	if !s.OriginAllowed(origin) {
		writeTransportError(w, http.StatusForbidden, typeForbiddenOrigin, "Origin "+origin+" is not allowed to use this server.")
		return false
	}
	if len(s.cfg.AllowedOrigins) > 0 {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Add("Vary", "Origin")
	} else {
		h["Access-Control-Allow-Origin"] = anyOrigin
	}
	if r.Method != http.MethodOptions {
		return true
	}
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
	} else {
		h.Set("Access-Control-Allow-Headers", "content-type, x-api-key, x-amz-user-agent, x-amz-date, authorization, x-amz-security-token, x-amz-content-sha256")
	}
	h.Set("Access-Control-Max-Age", "86400")
	if strings.EqualFold(r.Header.Get("Access-Control-Request-Private-Network"), "true") {
		h.Set("Access-Control-Allow-Private-Network", "true")
	}
	w.WriteHeader(http.StatusNoContent)
	return false
}

// transportError is an error about the HTTP request itself rather than its document.
type transportError struct {
	ErrorType string `json:"errorType"`
	Message   string `json:"message"`
}

func writeTransportError(w http.ResponseWriter, status int, errType, msg string) {
	writeJSON(w, status, struct {
		Errors []transportError `json:"errors"`
	}{[]transportError{{errType, msg}}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status, body = http.StatusOK, []byte(`{"data":null,"errors":[{"errorType":"InternalError","message":"Internal server error"}]}`)
	}
	w.Header()["Content-Type"] = contentTypeJSON
	w.WriteHeader(status)
	_, _ = w.Write(body)
}
