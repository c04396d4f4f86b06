package social

// ConnectionKind lets the external tests tamper with stored connections.
var ConnectionKind = connectionKind

// ShareKind lets the external tests put shares in a given state.
var ShareKind = shareKind
