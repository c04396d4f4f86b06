package httpapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strings"

	"github.com/gin-gonic/gin"
)

// LimitBody caps every request body at max bytes; reading past it fails
// with *http.MaxBytesError, which Decode answers with 413.
func LimitBody(max int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.ContentLength > max {
			Write(c, tooLarge(max))
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, max)
		}
		c.Next()
	}
}

// WellFormed refuses, before any handler, a query string that does not
// parse (a parameter such as ?limit=%zz would otherwise read as absent)
// and a body in an encoding Chorus does not read (Content-Encoding other
// than identity), each with a problem that says so.
func WellFormed() gin.HandlerFunc {
	return func(c *gin.Context) {
		// gin reads the query leniently and drops what does not parse.
		if raw := c.Request.URL.RawQuery; raw != "" {
			if _, err := url.ParseQuery(raw); err != nil {
				Write(c, errMalformedQuery.Withf("the query string does not parse: %v", err))
				return
			}
		}
		if ce := strings.TrimSpace(c.GetHeader("Content-Encoding")); ce != "" && !strings.EqualFold(ce, "identity") {
			Write(c, errUnsupportedEncoding.Withf("send the body without Content-Encoding (not %q)", ce))
			return
		}
		c.Next()
	}
}

func tooLarge(max int64) *Problem {
	return errBodyTooLarge.Withf("the request body is larger than %d bytes", max)
}

// Decode reads the request's JSON body into dst, a pointer to a struct.
// Unknown fields, wrong types, trailing data, a missing or null body or
// another media type are refused with a *Problem naming what is wrong, so
// a value such as {"$ne": ""} can never reach a query where a string was
// expected.
func Decode(c *gin.Context, dst any) error {
	ct := c.GetHeader("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return errUnsupportedMediaType.With("send the body as application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return errUnsupportedMediaType.With("send the body as UTF-8 JSON (charset=utf-8 or none)")
	}
	// encoding/json leaves dst as it is for a literal null, which would
	// read as {}.
	body := bufio.NewReader(c.Request.Body)
	if head, _ := body.Peek(512); bytes.HasPrefix(bytes.TrimLeft(head, " \t\r\n"), []byte("null")) {
		return errMalformedJSON.With("the body must be a JSON object, not null")
	}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return decodeProblem(err)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(mbe.Limit)
		}
		return errMalformedJSON.With("the body must hold exactly one JSON value")
	}
	return nil
}

// DecodeNone refuses a body on a request that takes none: no body and an
// empty JSON object pass; anything else is a *Problem as from Decode.
func DecodeNone(c *gin.Context) error {
	if c.Request.ContentLength == 0 {
		return nil
	}
	var none struct{}
	return Decode(c, &none)
}

func decodeProblem(err error) *Problem {
	var (
		mbe *http.MaxBytesError
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &mbe):
		return tooLarge(mbe.Limit)
	case errors.Is(err, io.EOF):
		return errMalformedJSON.With("the request body is empty")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errMalformedJSON.With("the request body ends in the middle of a JSON value")
	case errors.As(err, &syn):
		return errMalformedJSON.Withf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return errMalformedJSON.Withf("the body must be a JSON object, not %s", typ.Value)
		}
		if reason, ok := numberReason(typ); ok {
			return Invalid(FieldError{Field: field, Message: reason})
		}
		return Invalid(FieldError{Field: field, Message: "must be " + jsonType(typ.Type.Kind().String()) + ", not " + typ.Value})
	}
	// encoding/json reports an unknown field only in its message.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return Invalid(FieldError{Field: strings.Trim(name, `"`), Message: "unknown field"})
	}
	return errMalformedJSON.With("the body is not valid JSON for this request")
}

// numberReason says what a JSON number that does not fit a numeric field
// must be instead: a fraction or an out-of-range number for an integer, an
// out-of-range number for a float.
func numberReason(typ *json.UnmarshalTypeError) (string, bool) {
	if !strings.HasPrefix(typ.Value, "number") {
		return "", false
	}
	switch typ.Type.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "must be a whole number", true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "must be a whole number, 0 or more", true
	case reflect.Float32, reflect.Float64:
		return "must be a number within range", true
	}
	return "", false
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	}
	return "a " + kind
}
