package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		// mgmtgen runs the command with a stand-in schema loader until the
		// parser is merged; see fakeLoad.
		"mgmtgen": func() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, fakeLoad)) },
		// mgmtgen-real is the command as shipped, with schema.Load.
		"mgmtgen-real": main,
	})
}

// TestScripts runs testdata/script/*.txtar.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{Dir: "testdata/script"})
}

// fakeLoad stands in for schema.Load in the command tests: it reads the
// file, reports every line "error: msg" as "path:line:1: msg" (the shape of
// the parser's ErrorList), and otherwise returns a small fixed model whose
// package is named by a "package: name" line.
func fakeLoad(path string) (*schema.File, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pkg := "demo"
	var errs []string
	sc := bufio.NewScanner(bytes.NewReader(src))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if msg, ok := strings.CutPrefix(line, "error: "); ok {
			errs = append(errs, fmt.Sprintf("%s:%d:1: %s", path, n, msg))
		}
		if name, ok := strings.CutPrefix(line, "package: "); ok {
			pkg = name
		}
	}
	if len(errs) > 0 {
		return nil, errors.New(strings.Join(errs, "\n"))
	}
	f := demoModel(path, pkg, strings.Contains(string(src), "extra: true"))
	if strings.Contains(string(src), "collide: true") { // a struct named like a generated constant
		f.Structs = append(f.Structs, &schema.Struct{Name: "MsgPing", Pos: schema.Pos{File: path, Line: 3, Col: 1}})
	}
	return f, nil
}

// demoModel is a small protocol: a ping without payload and an echo whose
// payload has a string and a list; extra adds a field (a schema edit).
func demoModel(path, pkg string, extra bool) *schema.File {
	str := &schema.Type{Kind: schema.KindString}
	echo := &schema.Struct{Name: "EchoPayload", Doc: schema.Doc{Text: "EchoPayload is echoed back."},
		Fields: []*schema.Field{
			{Name: "Text", Key: "t", Type: str, MaxLen: 1024},
			{Name: "Tags", Key: "tags", Type: &schema.Type{Kind: schema.KindList, Elem: str},
				MaxLen: 64, MaxItems: 16},
		}}
	if extra {
		echo.Fields = append(echo.Fields, &schema.Field{Name: "Count", Key: "n", Type: &schema.Type{Kind: schema.KindInt}})
	}
	ping := &schema.Message{Name: "Ping", ID: 0x01, Pos: schema.Pos{File: path, Line: 2, Col: 3}}
	msg := &schema.Message{Name: "Echo", ID: 0x02, Payload: echo}
	return &schema.File{Path: path, Version: 1, Package: pkg, Doc: "Package " + pkg + " is a demo protocol.",
		IDs: schema.IDRange{Min: 0x01, Max: 0x0F}, Structs: []*schema.Struct{echo},
		Messages: []*schema.Message{ping, msg},
		Calls: []*schema.Call{
			{Name: "Ping", Request: ping, Response: ping},
			{Name: "Echo", Request: msg, Response: msg},
		}}
}
