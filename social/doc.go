// Package social owns what happens between a company's content and the
// social networks its employees share it to: the networks and their
// connectors' interface, the admins' whitelist, members' connections and
// the vault that keeps their tokens, shares and their publication, the
// reconciliation of what a crash or a lost task left, and tracked links
// with the clicks they record. docs/publishing.md tells the same story
// for operators and members.
//
// # Networks (network*.go)
//
// A connector subpackage (social/mastodon, social/bluesky, social/linkedin,
// social/x, social/facebook) implements [Network]; cmd puts the ones the
// deployment serves in a [Registry]. Optional capabilities are small
// interfaces a connector may also implement, checked with a type
// assertion where they are used: [PostFinder] (ResolveUnconfirmed asks it
// whether a post exists), [MetricsReader] (engagement), [TokenUpgrader],
// [TokenErrorClassifier], [Federated] (one app per server, as Mastodon)
// and [PasswordNetwork] (an app password instead of OAuth, as Bluesky).
// network_client.go is the HTTP client the connectors share ([API]): one
// way to send a request and classify the answer into an [*Error] (see
// errors.go for the classes: ErrRetryLater, ErrReconnect, ErrAmbiguous…).
// network_whitelist.go holds the admins' whitelist: Allow, Disallow
// (which disables the network's connections and cancels its pending
// shares) and the allowed servers of a federated network.
//
// # Connections and the vault (connection*.go, vault.go)
//
// A [Connection] is one member's account at one network. The OAuth flow
// (Start, Callback, the per-server apps) is in connection_oauth.go; the
// rest of a connection's life (Connect with a password, Disconnect, the
// account a publication uses, needs_reconnect and the member's mail) in
// connection.go; token refresh, serialised per connection, and key
// rotation in connection_refresh.go; the warning before a token that
// cannot renew expires in connection_expiry.go. Tokens are sealed with
// the tenant's [Keyring] (vault.go: AES-256-GCM, key ID per ciphertext,
// the instance and connection ID as associated data).
//
// # Shares and their state machine (share*.go)
//
// A [Share] is one post of one content through one connection
// (share.go: CreateShares, the member's list, CancelShare). It is written
// first and queued second, with the share's ID as the task's ID, so the
// database is the outbox. Every change of its state goes through
// transition in share_state.go, a conditional update on the states it
// leaves, checked against shareSteps, the table of the allowed changes:
// the state machine is readable there in one place. The call that moves
// a share out of the live states (to failed or cancelled) takes it out
// of its content's counters (share_counters.go, with RecountCounters for
// repairs). share_idempotency.go makes a share request with an
// Idempotency-Key happen once; share_link.go is the "link" channel, a
// share published at once that Chorus never posts; share_engagement.go
// reads a post's engagement; share_reads.go are the reads reach
// measurement and operator tools make.
//
// # Publishing and reconciliation (publish*.go)
//
// PublishShare (publish.go, the share:publish task that jobs runs) takes
// a queued or due scheduled share to publishing under a lease, calls the
// network once and records the outcome: published, failed, cancelled,
// back to queued with a [*RetryError] when the network says wait, or
// unconfirmed when the post may have reached the network, which is never
// posted again automatically. Chorus's own publishing limits per
// connection and per instance ([Limits], publish_ratelimit.go; the
// buckets are jobs.RateLimiter) and the deployment-wide pause of a network
// that refuses the app (publish_pause.go) make a share wait, not fail.
// Reconcile (publish_reconcile.go, the share:reconcile task) queues again
// what Redis lost and turns expired leases into unconfirmed;
// ResolveUnconfirmed (publish_resolve.go) asks the networks that can say
// whether an unconfirmed share's post exists: published if it is there,
// queued again if it is clearly not.
//
// # Tracked links and clicks (link*.go)
//
// Every share links through its own code, /r/{code}. A [TrackedLink]
// (link_store.go) is the instance's data, in its region; only the code's
// route to its instance is kept home, by tenant (tenant.Route: a click
// arrives without a session). The [Redirector]
// (link_redirect.go) answers with the stored destination plus UTM
// parameters and records the click off the request path: batched writes
// ([Click], clickBatch in link_clicks.go), the IP truncated, preview bots
// left out, each batch added to the counters of its shares and contents.
// SweepClicks applies the retention.
//
// # The reach hook
//
// Reach measurement (social/reach) learns of what happens here through
// two hooks: Config.OnPublished, told each share that became published
// (by PublishShare, ResolveUnconfirmed or a link share), and the
// Redirector's [ClickHook], told of each batch of clicks before and after
// it is stored. It reads shares and clicks through share_reads.go and
// link_clicks.go; the collections stay social's.
//
// # The rest
//
// service.go builds the [Service] from its [Config] (cmd's hooks into
// jobs: Enqueue, Dequeue, Throttle, Pauses); http.go has the Gin handlers
// and their routes; privacy.go is social's part of data-subject exports
// and erasure; errors.go the errors and their classes.
package social
