#!/usr/bin/env node
// Runs a real Bluesky PDS (@atproto/pds) and the PLC directory it registers
// its accounts' DIDs with (@did-plc/server, in memory) on 127.0.0.1, for
// the Bluesky connector's tests (social/bluesky/pdstest) and for trying the
// connector by hand (.ci/start-pds).
//
// It prints one JSON line on stdout once both serve:
//   {"url":"http://127.0.0.1:PORT","plc":"http://127.0.0.1:PORT",
//    "hostname":"localhost","adminPassword":"…","jwtSecret":"…"}
// and logs to stderr. It stops on SIGINT/SIGTERM and when its stdin closes
// (so a test process that dies takes it along).
//
// Environment (all optional):
//   PDS_DATA_DIRECTORY     where the PDS keeps its SQLite files and blobs;
//                          default a temporary directory removed on exit
//   PDS_PORT               default a free port
//   PDS_RATE_LIMITS_ENABLED=true  turns the PDS's own rate limits on
//   PDS_JWT_SECRET, PDS_ADMIN_PASSWORD  default random
//   CHORUS_PDS_KEEP_STDIN=1 keeps running when stdin closes (.ci/start-pds)
'use strict'

const crypto = require('node:crypto')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

// Both servers call app.listen(port), which binds every interface: bind
// loopback only, whatever the libraries ask for.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if ((typeof args[0] === 'number' || typeof args[0] === 'string' && /^\d+$/.test(args[0])) && typeof args[1] !== 'string') {
    args.splice(1, 0, '127.0.0.1')
  }
  return listen.apply(this, args)
}

const hex = (n) => crypto.randomBytes(n).toString('hex')

function freePort() {
  return new Promise((resolve, reject) => {
    const s = listen.call(net.createServer(), 0, '127.0.0.1')
    s.on('error', reject)
    s.on('listening', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

async function main() {
  const { PlcServer, Database } = require('@did-plc/server')
  const { PDS, envToCfg, envToSecrets, readEnv } = require('@atproto/pds')

  let dir = process.env.PDS_DATA_DIRECTORY
  let removeDir = false
  if (!dir) {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'chorus-pds-'))
    removeDir = true
  }

  const plc = PlcServer.create({ db: Database.mock(), port: 0 })
  const plcServer = await plc.start()
  const plcURL = `http://127.0.0.1:${plcServer.address().port}`

  const port = Number(process.env.PDS_PORT) || (await freePort())
  const secrets = {
    PDS_JWT_SECRET: process.env.PDS_JWT_SECRET || hex(32),
    PDS_ADMIN_PASSWORD: process.env.PDS_ADMIN_PASSWORD || hex(16),
  }
  Object.assign(process.env, {
    ...secrets,
    PDS_DEV_MODE: 'true',
    PDS_PORT: String(port),
    // "localhost" is the one hostname for which the PDS's public URL (in
    // its DID document and its accounts') is http://localhost:PORT.
    PDS_HOSTNAME: 'localhost',
    PDS_DATA_DIRECTORY: dir,
    PDS_BLOBSTORE_DISK_LOCATION: path.join(dir, 'blobs'),
    PDS_PLC_ROTATION_KEY_K256_PRIVATE_KEY_HEX: hex(32),
    PDS_DID_PLC_URL: plcURL,
    PDS_INVITE_REQUIRED: 'false',
    PDS_SERVICE_HANDLE_DOMAINS: '.test',
    // No network: no relay to announce to, no AppView to proxy to.
    PDS_CRAWLERS: '',
    PDS_BSKY_APP_VIEW_URL: '',
    PDS_BSKY_APP_VIEW_DID: '',
    PDS_REPORT_SERVICE_URL: '',
    PDS_REPORT_SERVICE_DID: '',
    PDS_RATE_LIMITS_ENABLED: process.env.PDS_RATE_LIMITS_ENABLED || 'false',
  })
  const env = readEnv()
  const pds = await PDS.create(envToCfg(env), envToSecrets(env))
  await pds.start()

  let stopping = false
  const stop = async (code) => {
    if (stopping) return
    stopping = true
    await Promise.allSettled([pds.destroy(), plc.destroy()])
    if (removeDir) fs.rmSync(dir, { recursive: true, force: true })
    process.exit(code)
  }
  process.on('SIGINT', () => stop(0))
  process.on('SIGTERM', () => stop(0))
  if (!process.env.CHORUS_PDS_KEEP_STDIN) {
    process.stdin.on('end', () => stop(0))
    process.stdin.on('error', () => stop(0))
    process.stdin.resume()
  }

  process.stdout.write(
    JSON.stringify({
      url: `http://127.0.0.1:${port}`,
      plc: plcURL,
      hostname: 'localhost',
      adminPassword: secrets.PDS_ADMIN_PASSWORD,
      jwtSecret: secrets.PDS_JWT_SECRET,
    }) + '\n',
  )
}

main().catch((err) => {
  console.error('pds runner:', err)
  process.exit(1)
})
