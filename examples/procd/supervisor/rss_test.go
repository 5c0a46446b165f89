package supervisor

import (
	"os"
	"testing"
	"time"
)

// A reading is reused for its child for less than RSSMaxAge, then read
// again; another child is read at once.
func TestRSSCache(t *testing.T) {
	var c rssCache
	self := os.Getpid()
	if c.get(self) == 0 {
		t.Fatal("no RSS for this process")
	}
	c.rss = 1 // a sentinel: a cached answer returns it
	if got := c.get(self); got != 1 {
		t.Errorf("within RSSMaxAge: %d, want the cached reading", got)
	}
	c.at = c.at.Add(-RSSMaxAge)
	if got := c.get(self); got <= 1 {
		t.Errorf("after RSSMaxAge: %d, want a new reading", got)
	}
	c.rss = 1
	if got := c.get(os.Getppid()); got == 1 {
		t.Errorf("another child: %d, want its own reading", got)
	}
	if age := time.Since(c.at); age >= RSSMaxAge {
		t.Errorf("reading %v old", age)
	}
}
