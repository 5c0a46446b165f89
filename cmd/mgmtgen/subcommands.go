package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"sort"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// subcommand is one of mgmtgen's tools besides generating.
type subcommand struct {
	usage string // the synopsis after "mgmtgen "
	run   func(env *cmdEnv, args []string) int
}

// subcommands are looked up by the first argument; the flag-only form
// (which starts with a flag) generates.
var subcommands map[string]subcommand

func init() {
	subcommands = map[string]subcommand{
		"describe": {"describe [-json] (SOCKET | -schema FILE) [NAME]", runDescribe},
		"doc":      {"doc [-check] -schema FILE -out FILE.md", runDoc},
		"breaking": {"breaking [-level wire|source] -against OLD.yaml NEW.yaml", runBreaking},
		"call":     {"call [-schema FILE] [-d JSON|@FILE|@-] [-text] [-seq] [-timeout DUR] {SOCKET | -host ADDR... | -hosts FILE} CALL [JSON]", runCall},
	}
}

// cmdEnv is what a subcommand gets from the process.
type cmdEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	load           loader
}

// newFlags returns a flag set for subcommand name whose usage line is its
// synopsis.
func (env *cmdEnv) newFlags(name string) *flag.FlagSet {
	fset := flag.NewFlagSet("mgmtgen "+name, flag.ContinueOnError)
	fset.SetOutput(env.stderr)
	fset.Usage = func() {
		fmt.Fprintf(env.stderr, "usage: mgmtgen %s\n", subcommands[name].usage)
		fset.PrintDefaults()
	}
	return fset
}

// parse parses args into fset; it returns an exit code >= 0 when the
// subcommand must stop (-help: 0; a bad flag: 2).
func parse(fset *flag.FlagSet, args []string) int {
	if err := fset.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	return -1
}

// usageError prints msg and the subcommand's usage; exit 2.
func (env *cmdEnv) usageError(fset *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(env.stderr, "mgmtgen: %s\n", fmt.Sprintf(format, args...))
	fset.Usage()
	return exitUsage
}

// loadSchema loads path, printing its errors; nil when it failed (exit 1).
func (env *cmdEnv) loadSchema(path string) *schema.File {
	f, err := env.load(path)
	var pathErr *fs.PathError
	switch {
	case errors.As(err, &pathErr):
		fmt.Fprintf(env.stderr, "mgmtgen: %v\n", err)
		return nil
	case err != nil:
		printSchemaErrorsOnly(env.stderr, err)
		fmt.Fprintf(env.stderr, "mgmtgen: schema %s has errors\n", path)
		return nil
	}
	return f
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
