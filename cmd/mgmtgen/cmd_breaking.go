package main

import (
	"fmt"

	"github.com/mgmtgen/mgmtgen/internal/breaking"
)

// runBreaking is "mgmtgen breaking [-level wire|source] -against OLD.yaml NEW.yaml".
func runBreaking(env *cmdEnv, args []string) int {
	fset := env.newFlags("breaking")
	against := fset.String("against", "", "the old schema `file` to compare with (required)")
	levelName := fset.String("level", "source", "rules to apply: `wire` (old peers break) or source (also generated Go API changes)")
	pos, code := parseInterspersed(fset, args)
	if code >= 0 {
		return code
	}
	var lvl breaking.Level
	switch *levelName {
	case "wire":
		lvl = breaking.Wire
	case "source":
		lvl = breaking.Source
	default:
		return env.usageError(fset, "-level must be wire or source, not %q", *levelName)
	}
	switch {
	case *against == "":
		return env.usageError(fset, "-against is required")
	case len(pos) != 1:
		return env.usageError(fset, "want one NEW.yaml")
	}
	old := env.loadSchema(*against)
	if old == nil {
		return callSchema
	}
	cur := env.loadSchema(pos[0])
	if cur == nil {
		return callSchema
	}
	found := breaking.Compare(old, cur, lvl)
	for _, f := range found {
		fmt.Fprintln(env.stdout, f)
	}
	if len(found) > 0 {
		fmt.Fprintf(env.stderr, "mgmtgen: %d breaking change(s) from %s to %s at level %s\n", len(found), *against, pos[0], lvl)
		return exitFail
	}
	return exitOK
}
