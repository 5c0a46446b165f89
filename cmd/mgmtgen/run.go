package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	"github.com/mgmtgen/mgmtgen/internal/codegen"
	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// Exit codes.
const (
	exitOK    = 0
	exitFail  = 1 // schema errors, stale files under -check, I/O errors
	exitUsage = 2
)

// loader reads and validates a schema file; schema.Load in production.
type loader func(path string) (*schema.File, error)

// options are the parsed command line.
type options struct {
	schema, out             string
	check, version, verbose bool
}

// run is the whole command, minus the process: it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer, load loader) int {
	if len(args) > 0 {
		if sub, ok := subcommands[args[0]]; ok {
			return sub.run(&cmdEnv{stdin: stdin, stdout: stdout, stderr: stderr, load: load}, args[1:])
		}
		if !strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(stderr, "mgmtgen: unknown subcommand %q\n", args[0])
			printUsage(stderr)
			return exitUsage
		}
	}
	opts, code := parseFlags(args, stderr)
	if code >= 0 {
		return code
	}
	if opts.version {
		fmt.Fprintln(stdout, "mgmtgen", version())
		return exitOK
	}
	f, err := load(opts.schema)
	var pathErr *fs.PathError
	switch {
	case errors.As(err, &pathErr): // unreadable, not invalid
		fmt.Fprintf(stderr, "mgmtgen: %v\n", err)
		return exitFail
	case err != nil:
		printSchemaErrors(stderr, err)
		return exitFail
	}
	files, err := codegen.Generate(f)
	if err != nil {
		return reportGenerateError(stderr, opts, err)
	}
	if opts.check {
		return check(stdout, stderr, opts, files)
	}
	written, err := writeFiles(opts.out, files)
	if err != nil {
		fmt.Fprintf(stderr, "mgmtgen: %v\n", err)
		return exitFail
	}
	removed, err := removeObsolete(opts.out, files)
	if err != nil {
		fmt.Fprintf(stderr, "mgmtgen: %v\n", err)
		return exitFail
	}
	if opts.verbose {
		report(stdout, opts.out, len(files), written, removed)
	}
	return exitOK
}

// report says, for -v, what writing changed: each file written or removed,
// or that every file was already up to date.
func report(stdout io.Writer, dir string, n int, written, removed []string) {
	for _, name := range written {
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(dir, name))
	}
	for _, name := range removed {
		fmt.Fprintf(stdout, "removed %s\n", filepath.Join(dir, name))
	}
	switch {
	case len(written)+len(removed) > 0:
	case filepath.Clean(dir) == ".":
		fmt.Fprintf(stdout, "%d files up to date\n", n)
	default:
		fmt.Fprintf(stdout, "%s: %d files up to date\n", filepath.Clean(dir), n)
	}
}

// parseFlags returns the options, or an exit code >= 0 when run must stop.
func parseFlags(args []string, stderr io.Writer) (options, int) {
	var o options
	fs := flag.NewFlagSet("mgmtgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.schema, "schema", "", "schema `file` to read (required)")
	fs.StringVar(&o.out, "out", "", "`directory` of the generated package (required)")
	fs.BoolVar(&o.check, "check", false, "write nothing; diff stale files and exit 1 if any")
	fs.BoolVar(&o.verbose, "v", false, "print each file written or removed, or that all are up to date")
	fs.BoolVar(&o.version, "version", false, "print the version and exit")
	fs.Usage = func() {
		printUsage(stderr)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, exitOK
		}
		return o, exitUsage
	}
	usage := func(msg string) (options, int) {
		fmt.Fprintf(stderr, "mgmtgen: %s\n", msg)
		fs.Usage()
		return o, exitUsage
	}
	switch {
	case fs.NArg() > 0:
		return usage(fmt.Sprintf("unexpected argument %q", fs.Arg(0)))
	case o.version:
		return o, -1
	case o.schema == "":
		return usage("-schema is required")
	case o.out == "":
		return usage("-out is required")
	}
	return o, -1
}

// printUsage prints the synopsis of every form of the command.
func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: mgmtgen -schema FILE -out DIR [-check] [-v]\n       mgmtgen -version")
	for _, name := range sortedKeys(subcommands) {
		fmt.Fprintf(w, "       mgmtgen %s\n", subcommands[name].usage)
	}
}

// printSchemaErrors prints every line of a schema error (file:line:col: msg,
// as editors expect, so without the command prefix) and a summary.
func printSchemaErrors(stderr io.Writer, err error) {
	printSchemaErrorsOnly(stderr, err)
	fmt.Fprintln(stderr, "mgmtgen: schema has errors; nothing written")
}

// printSchemaErrorsOnly prints every line of a schema error.
func printSchemaErrorsOnly(stderr io.Writer, err error) {
	errs := []error{err}
	if multi, ok := err.(interface{ Unwrap() []error }); ok {
		errs = multi.Unwrap()
	}
	for _, e := range errs {
		for _, l := range strings.Split(strings.TrimRight(e.Error(), "\n"), "\n") {
			fmt.Fprintln(stderr, l)
		}
	}
}

// reportGenerateError reports a generator failure; output that could not be
// formatted is kept as <file>.broken (not under -check, which writes nothing).
func reportGenerateError(stderr io.Writer, opts options, err error) int {
	var fe *codegen.FormatError
	if errors.As(err, &fe) && !opts.check {
		broken := filepath.Join(opts.out, fe.Name+".broken")
		if mkErr := os.MkdirAll(opts.out, 0o755); mkErr == nil {
			if wErr := os.WriteFile(broken, fe.Content, 0o644); wErr == nil {
				fmt.Fprintf(stderr, "mgmtgen: %v (wrote %s)\n", fe.Err, broken)
				return exitFail
			}
		}
	}
	// Errors at schema positions (e.g. a schema name colliding with a
	// generated one) print like schema errors; others get the prefix.
	for _, line := range strings.Split(err.Error(), "\n") {
		if strings.HasPrefix(line, opts.schema+":") {
			fmt.Fprintln(stderr, line)
		} else {
			fmt.Fprintf(stderr, "mgmtgen: %s\n", line)
		}
	}
	return exitFail
}

// check diffs every generated file against DIR, and every file mgmtgen
// generated there earlier but no longer would; exit 1 if any differs.
func check(stdout, stderr io.Writer, opts options, files []codegen.OutFile) int {
	var stale []string
	for _, f := range files {
		path := filepath.Join(opts.out, f.Name)
		old, err := os.ReadFile(path)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(stderr, "mgmtgen: %v\n", err)
			return exitFail
		}
		if err == nil && bytes.Equal(old, f.Content) {
			continue
		}
		from := path
		if err != nil {
			from = "/dev/null"
		}
		stale = append(stale, path)
		io.WriteString(stdout, unifiedDiff(from, path+" (generated)", old, f.Content))
	}
	obs, err := obsolete(opts.out, files)
	if err != nil {
		fmt.Fprintf(stderr, "mgmtgen: %v\n", err)
		return exitFail
	}
	for _, name := range obs {
		path := filepath.Join(opts.out, name)
		old, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "mgmtgen: %v\n", err)
			return exitFail
		}
		stale = append(stale, path)
		io.WriteString(stdout, unifiedDiff(path, "/dev/null", old, nil))
	}
	if len(stale) == 0 {
		return exitOK
	}
	fmt.Fprintf(stderr, "mgmtgen: %d generated file(s) stale, missing or obsolete in %s: %s\n",
		len(stale), opts.out, strings.Join(stale, ", "))
	fmt.Fprintf(stderr, "mgmtgen: run: mgmtgen -schema %s -out %s\n", opts.schema, opts.out)
	return exitFail
}

// modulePath is mgmtgen's module; its version is mgmtgen's version.
const modulePath = "github.com/mgmtgen/mgmtgen"

// version is the version of the mgmtgen module this binary was built from:
// the main module when built in its repository or by go install, a
// dependency when run as "go tool mgmtgen" from a user's module.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	if bi.Main.Path == modulePath && bi.Main.Version != "" {
		return bi.Main.Version
	}
	for _, d := range bi.Deps {
		if d.Path == modulePath {
			if d.Replace != nil && d.Replace.Version == "" {
				return d.Version + " (replaced by " + d.Replace.Path + ")"
			}
			return d.Version
		}
	}
	return "(devel)"
}
