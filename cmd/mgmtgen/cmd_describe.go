package main

import (
	"encoding/json"
	"fmt"

	"github.com/mgmtgen/mgmtgen/internal/schemadoc"
)

// runDescribe is "mgmtgen describe [-json] -schema FILE [NAME]".
func runDescribe(env *cmdEnv, args []string) int {
	fset := env.newFlags("describe")
	schemaPath := fset.String("schema", "", "schema `file` to describe (required until servers can describe themselves)")
	asJSON := fset.Bool("json", false, "print JSON instead of text")
	if code := parse(fset, args); code >= 0 {
		return code
	}
	switch {
	case fset.NArg() > 1:
		return env.usageError(fset, "unexpected argument %q", fset.Arg(1))
	case *schemaPath == "":
		return env.usageError(fset, "-schema is required: describing a live server needs the protocol "+
			"extensions (Describe), which servers do not speak yet")
	}
	f := env.loadSchema(*schemaPath)
	if f == nil {
		return exitFail
	}
	p := schemadoc.Describe(f)
	var part any = p
	if name := fset.Arg(0); name != "" {
		var err error
		if part, err = p.Lookup(name); err != nil {
			fmt.Fprintf(env.stderr, "mgmtgen: %v\n", err)
			return exitFail
		}
	}
	var err error
	switch {
	case *asJSON:
		enc := json.NewEncoder(env.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(part)
	case part == any(p):
		err = schemadoc.WriteText(env.stdout, p)
	default:
		err = schemadoc.WriteTextOne(env.stdout, p, part)
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "mgmtgen: %v\n", err)
		return exitFail
	}
	return exitOK
}
