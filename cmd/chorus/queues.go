package main

import (
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"

	"github.com/chorushq/chorus/tenant/foundation/httpapi"
)

// queuesPath is where Asynqmon, the queues' web console, is mounted.
const queuesPath = "/ops/queues"

// mountQueues serves Asynqmon read-only at /ops/queues for operators: the
// operator token as a bearer token, or as the password of HTTP Basic
// authentication so that a browser can open the console (any user name).
// Only GET is routed, and Asynqmon itself refuses changes in read-only
// mode. Task payloads hold instance and object IDs only. Without an
// operator token nothing is mounted; the returned handler (nil then) holds
// Redis connections until closed.
func mountQueues(e *gin.Engine, token string, redisOpt asynq.RedisConnOpt) *asynqmon.HTTPHandler {
	if token == "" || redisOpt == nil {
		return nil
	}
	mon := asynqmon.New(asynqmon.Options{RootPath: queuesPath, RedisConnOpt: redisOpt, ReadOnly: true})
	h := []gin.HandlerFunc{operatorOnly(token), gin.WrapH(mon)}
	e.GET(queuesPath, h...)
	e.GET(queuesPath+"/*path", h...)
	// docs/design/API.md names the console /ops/v1/queues, beside the operator API.
	e.GET("/ops/v1/queues", operatorOnly(token), func(c *gin.Context) { c.Redirect(http.StatusFound, queuesPath+"/") })
	return mon
}

// operatorOnly lets through requests that carry the operator token.
func operatorOnly(token string) gin.HandlerFunc {
	return tokenOnly(token, "Chorus operators", "the queues console needs the operator token")
}

// tokenOnly lets through requests that carry token as a bearer token (or
// a basic-auth password); others get 401 with detail.
func tokenOnly(token, realm, detail string) gin.HandlerFunc {
	return func(c *gin.Context) {
		given, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok {
			_, given, ok = c.Request.BasicAuth()
		}
		if !ok || subtle.ConstantTimeCompare([]byte(given), []byte(token)) != 1 {
			c.Header("WWW-Authenticate", `Basic realm="`+realm+`", charset="UTF-8"`)
			httpapi.Write(c, httpapi.ErrUnauthenticated.With(detail))
			return
		}
		c.Header("Cache-Control", "no-store")
		c.Next()
	}
}
