package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"
)

type requestIDKey struct{}

// RequestID returns the ID of the request ctx belongs to, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// WithRequestID returns ctx carrying the request ID id.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestIDs gives every request a fresh random ID, sent back as
// X-Request-ID and carried in the context for logs and problem documents.
// A client-supplied ID is not trusted: it could forge log lines.
func RequestIDs() gin.HandlerFunc {
	return func(c *gin.Context) {
		var b [12]byte
		rand.Read(b[:])
		id := base64.RawURLEncoding.EncodeToString(b[:])
		c.Header("X-Request-ID", id)
		c.Request = c.Request.WithContext(WithRequestID(c.Request.Context(), id))
		c.Next()
	}
}

// List is the envelope of every list response.
type List[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

// Page limits.
const (
	DefaultLimit = 20
	MaxLimit     = 100
)

// Limit reads ?limit= (default 20, 1..100).
func Limit(c *gin.Context) (int, error) {
	s := c.Query("limit")
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 1 || n > MaxLimit {
		return 0, Invalid(FieldError{Field: "limit", Message: "must be a whole number from 1 to 100"})
	}
	return n, nil
}
