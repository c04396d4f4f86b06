#!/usr/bin/env node
// Runs web-push-testing (an independent Web Push endpoint: it checks the
// VAPID JWT against the key a subscription was made with and decrypts the
// RFC 8291 payload) on 127.0.0.1, for Chorus's push notification tests
// (cmd/chorus) and the browser test.
//
// It prints one JSON line on stdout once it serves:
//   {"url":"http://127.0.0.1:PORT"}
// and logs to stderr. Its API (POST, JSON): /subscribe
// {applicationServerKey} → {data: {endpoint, keys, clientHash}};
// /get-notifications {clientHash} → {data: {messages: [...]}};
// /expire-subscription/<clientHash> makes the endpoint answer 410.
// It stops on SIGINT/SIGTERM and when its stdin closes, unless
// CHORUS_WEBPUSH_KEEP_STDIN=1. WEBPUSH_PORT picks the port (default: free).
'use strict'

const net = require('node:net')

// express's app.listen(port) binds every interface: bind loopback only.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' && typeof args[1] !== 'string') {
    args.splice(1, 0, '127.0.0.1')
  }
  return listen.apply(this, args)
}

const TestingServer = require('web-push-testing/src/server.js')
const { PushApiModel } = require('web-push-testing/src/PushApiModel.js')

const model = new PushApiModel()
const server = new TestingServer(model, Number(process.env.WEBPUSH_PORT || 0))
// startServer logs its "running" line with console.log: keep stdout for
// the one JSON line.
console.log = (...args) => console.error(...args)
server.startServer()
server._server.on('listening', () => {
  const { port } = server._server.address()
  const url = `http://127.0.0.1:${port}`
  // Endpoints the subscriptions hand out name the real port.
  model.notifyUrl = `${url}/notify/`
  process.stdout.write(JSON.stringify({ url }) + '\n')
})

const stop = () => server._server.close(() => process.exit(0))
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
if (process.env.CHORUS_WEBPUSH_KEEP_STDIN !== '1') {
  process.stdin.on('end', stop)
  process.stdin.on('close', stop)
  process.stdin.resume()
}
