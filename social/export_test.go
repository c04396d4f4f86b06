package social

// ConnectionKind lets the external tests tamper with stored connections.
var ConnectionKind = connectionKind
