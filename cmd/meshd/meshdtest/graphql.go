package meshdtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Error is a GraphQL error meshd answered with: the first of the response's errors.
type Error struct {
	Type    string
	Message string
}

func (e *Error) Error() string { return e.Type + ": " + e.Message }

// Post sends a GraphQL document to the running meshd with the header pairs given (name, value,
// …) and returns its data. A transport failure is an error; a GraphQL error is an *Error.
func (p *Process) Post(ctx context.Context, query string, vars map[string]any, header ...string) (map[string]any, error) {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return nil, fmt.Errorf("post: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("post: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("post: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("post: read the answer: %w", err)
	}
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []struct {
			ErrorType string `json:"errorType"`
			Message   string `json:"message"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("post: answer %d %q: %w", resp.StatusCode, raw, err)
	}
	if len(out.Errors) > 0 {
		return out.Data, &Error{Type: out.Errors[0].ErrorType, Message: out.Errors[0].Message}
	}
	return out.Data, nil
}
