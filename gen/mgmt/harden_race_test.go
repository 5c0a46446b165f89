//go:build race

package mgmt_test

// hConns is how many connections TestOverloadManyIdleConns opens; fewer
// under the race detector, which slows every accept and close.
const hConns = 3000
