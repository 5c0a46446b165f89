//go:build !race

package mgmt_test

// hConns is how many connections TestOverloadManyIdleConns opens.
const hConns = 10000
