package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/mgmtgen/mgmtgen/internal/schemadoc"
)

// runDoc is "mgmtgen doc [-check] -schema FILE -out FILE.md".
func runDoc(env *cmdEnv, args []string) int {
	fset := env.newFlags("doc")
	schemaPath := fset.String("schema", "", "schema `file` to document (required)")
	out := fset.String("out", "", "Markdown `file` to write (required)")
	check := fset.Bool("check", false, "write nothing; print a diff and exit 1 if the file is stale")
	if code := parse(fset, args); code >= 0 {
		return code
	}
	switch {
	case fset.NArg() > 0:
		return env.usageError(fset, "unexpected argument %q", fset.Arg(0))
	case *schemaPath == "":
		return env.usageError(fset, "-schema is required")
	case *out == "":
		return env.usageError(fset, "-out is required")
	}
	f := env.loadSchema(*schemaPath)
	if f == nil {
		return exitFail
	}
	md := schemadoc.Markdown(f)
	old, err := os.ReadFile(*out)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(env.stderr, "mgmtgen: %v\n", err)
		return exitFail
	}
	if err == nil && bytes.Equal(old, md) {
		return exitOK // current: leave it alone, modification time too
	}
	if *check {
		from := *out
		if err != nil {
			from = "/dev/null"
		}
		io.WriteString(env.stdout, unifiedDiff(from, *out+" (generated)", old, md))
		fmt.Fprintf(env.stderr, "mgmtgen: %s is stale; run: mgmtgen doc -schema %s -out %s\n", *out, *schemaPath, *out)
		return exitFail
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fmt.Fprintf(env.stderr, "mgmtgen: %v\n", err)
		return exitFail
	}
	if err := writeAtomic(*out, md); err != nil {
		fmt.Fprintf(env.stderr, "mgmtgen: %v\n", err)
		return exitFail
	}
	return exitOK
}
