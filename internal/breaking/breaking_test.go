package breaking

import (
	"os"
	"strings"
	"testing"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// TestRulesDocumented: schema/README.md has a row, with its level, for every
// rule, and no row for a rule that does not exist.
func TestRulesDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../schema/README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		cells := strings.Split(line, " | ")
		if len(cells) > 2 && strings.HasPrefix(cells[0], "| `") && (cells[1] == "wire" || cells[1] == "source") {
			rows[strings.Trim(cells[0], "| `")] = cells[1]
		}
	}
	for _, r := range Rules {
		if got, ok := rows[r.Name]; !ok {
			t.Errorf("schema/README.md documents no rule %s", r.Name)
		} else if got != r.Level.String() {
			t.Errorf("schema/README.md gives %s level %s, want %s", r.Name, got, r.Level)
		}
		delete(rows, r.Name)
	}
	for name := range rows {
		t.Errorf("schema/README.md documents %s, which is no rule", name)
	}
}

// TestMgmtAgainstItself: no finding between a schema and itself, and the
// wire level is a subset of the source level.
func TestMgmtAgainstItself(t *testing.T) {
	f, err := schema.Load("../../schema/mgmt.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if got := Compare(f, f, Source); len(got) != 0 {
		t.Errorf("mgmt.yaml against itself: %v", got)
	}
	var wire, source int
	for _, r := range Rules {
		if r.Level == Wire {
			wire++
		} else {
			source++
		}
		if level(r.Name) != r.Level {
			t.Errorf("level(%s) = %v", r.Name, level(r.Name))
		}
	}
	if wire == 0 || source == 0 {
		t.Errorf("%d wire and %d source rules", wire, source)
	}
}
