package metrics

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"strconv"
)

// CountResponses counts h's responses by status code.
func (m *Metrics) CountResponses(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, onHijack: func() {
			m.responses.WithLabelValues(strconv.Itoa(http.StatusSwitchingProtocols)).Inc()
		}}
		h.ServeHTTP(rec, r)
		if rec.hijacked {
			return
		}
		code := rec.code
		if code == 0 {
			code = http.StatusOK
		}
		m.responses.WithLabelValues(strconv.Itoa(code)).Inc()
	})
}

// statusRecorder remembers the status code written through it. It passes Flush and Hijack on,
// so that streaming and WebSocket upgrades work through it; a hijacked connection is counted
// as 101 Switching Protocols when it is taken over, before the upgrade is answered.
type statusRecorder struct {
	http.ResponseWriter
	code     int
	hijacked bool
	onHijack func()
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := s.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("the connection cannot be hijacked")
	}
	conn, rw, err := h.Hijack()
	if err == nil {
		s.hijacked = true
		s.onHijack()
	}
	return conn, rw, err
}

// Unwrap gives http.ResponseController the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
