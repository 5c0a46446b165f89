package supervisor

import (
	"strings"
	"testing"
	"time"
)

func TestParseConfigFull(t *testing.T) {
	src := `runtime_dir: /run/procd
processes:
  - id: web
    name: Web server
    command: /bin/sh
    args: [-c, "echo hi"]
    env: {FOO: bar, EMPTY: ""}
    dir: /tmp
    restart: always
    max_restarts: -1
    backoff: 250ms
    max_backoff: 4s
    stop_timeout: 3s
    log_buffer: 4096
  - id: worker
    command: sleep
`
	cfg, err := ParseConfig("procd.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Socket != "/run/procd/manager.sock" || cfg.RuntimeDir != "/run/procd" {
		t.Errorf("socket = %q, runtime dir = %q", cfg.Socket, cfg.RuntimeDir)
	}
	web := cfg.Processes[0]
	want := ProcessConfig{ID: "web", Name: "Web server", Command: "/bin/sh", Args: []string{"-c", "echo hi"},
		Env: map[string]string{"FOO": "bar", "EMPTY": ""}, Dir: "/tmp", Restart: RestartAlways,
		MaxRestarts: -1, Backoff: 250 * time.Millisecond, MaxBackoff: 4 * time.Second,
		StopTimeout: 3 * time.Second, LogBuffer: 4096}
	if !equalConfig(web, want) {
		t.Errorf("web = %+v\nwant  %+v", web, want)
	}
	worker := cfg.Processes[1]
	wantW := ProcessConfig{ID: "worker", Name: "worker", Command: "sleep", Restart: DefaultRestart,
		MaxRestarts: DefaultMaxRestarts, Backoff: DefaultBackoff, MaxBackoff: DefaultMaxBackoff,
		StopTimeout: DefaultStopTimeout, LogBuffer: DefaultLogBuffer}
	if !equalConfig(worker, wantW) {
		t.Errorf("worker = %+v\nwant     %+v", worker, wantW)
	}
}

func equalConfig(a, b ProcessConfig) bool {
	if strings.Join(a.Args, "\x00") != strings.Join(b.Args, "\x00") || len(a.Env) != len(b.Env) {
		return false
	}
	for k, v := range a.Env {
		if bv, ok := b.Env[k]; !ok || bv != v {
			return false
		}
	}
	a.Args, b.Args, a.Env, b.Env = nil, nil, nil, nil
	return a.ID == b.ID && a.Name == b.Name && a.Command == b.Command && a.Dir == b.Dir &&
		a.Restart == b.Restart && a.MaxRestarts == b.MaxRestarts && a.Backoff == b.Backoff &&
		a.MaxBackoff == b.MaxBackoff && a.StopTimeout == b.StopTimeout && a.LogBuffer == b.LogBuffer
}

func TestParseConfigSocket(t *testing.T) {
	cfg, err := ParseConfig("c.yaml", []byte("socket: /tmp/x.sock\nprocesses: [{id: a, command: true}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Socket != "/tmp/x.sock" || cfg.RuntimeDir != "" {
		t.Errorf("socket = %q, runtime dir = %q", cfg.Socket, cfg.RuntimeDir)
	}
}

func TestParseConfigErrors(t *testing.T) {
	const head = "runtime_dir: /r\nprocesses:\n"
	tests := []struct {
		name, src string
		want      []string // substrings, all of which must appear
	}{
		{"unknown root key", "runtime_dir: /r\nsokcet: x\nprocesses: [{id: a, command: c}]\n",
			[]string{`c.yaml:2:1: unknown key "sokcet" in configuration`}},
		{"unknown process key", head + "  - id: a\n    command: c\n    restrat: always\n",
			[]string{`c.yaml:5:5: unknown key "restrat" in process`}},
		{"bad restart", head + "  - id: a\n    command: c\n    restart: sometimes\n",
			[]string{`c.yaml:5:14: restart must be never, on-failure or always, not "sometimes"`}},
		{"duplicate id", head + "  - {id: a, command: c}\n  - {id: a, command: c}\n",
			[]string{`c.yaml:4:10: duplicate process id "a" (first at line 3)`}},
		{"both dirs", "runtime_dir: /r\nsocket: /s\nprocesses: [{id: a, command: c}]\n",
			[]string{`c.yaml:2:9: set runtime_dir or socket, not both`}},
		{"no socket", "processes: [{id: a, command: c}]\n",
			[]string{`c.yaml:1:1: runtime_dir or socket is required`}},
		{"no processes", "runtime_dir: /r\n", []string{"processes must be a non-empty list"}},
		{"empty processes", "runtime_dir: /r\nprocesses: []\n", []string{"c.yaml:2:12: processes must be a non-empty list"}},
		{"bad duration", head + "  - {id: a, command: c, backoff: 5}\n",
			[]string{`c.yaml:3:34: expected a positive duration such as "500ms" or "2s", not "5"`}},
		{"negative duration", head + "  - {id: a, command: c, stop_timeout: -1s}\n", []string{`not "-1s"`}},
		{"log buffer range", head + "  - {id: a, command: c, log_buffer: 0}\n",
			[]string{"c.yaml:3:37: 0 out of range [1, 1073741824]"}},
		{"log buffer type", head + "  - {id: a, command: c, log_buffer: 1MiB}\n", []string{`expected an integer, not "1MiB"`}},
		{"log buffer float", head + "  - {id: a, command: c, log_buffer: 1.5}\n", []string{`expected an integer, not "1.5"`}},
		{"max restarts range", head + "  - {id: a, command: c, max_restarts: -2}\n", []string{"-2 out of range [-1, 1048576]"}},
		{"missing command", head + "  - {id: a}\n", []string{`c.yaml:3:5: process "a": command is required`}},
		{"missing id", head + "  - {command: c}\n", []string{"c.yaml:3:5: process id is required"}},
		{"bad id", head + "  - {id: a/b, command: c}\n", []string{`c.yaml:3:10: process id "a/b": only letters`}},
		{"bad env", head + "  - {id: a, command: c, env: {A=B: x}}\n", []string{`invalid environment variable name "A=B"`}},
		{"args not list", head + "  - {id: a, command: c, args: x}\n", []string{"expected a list of strings"}},
		{"backoff over cap", head + "  - {id: a, command: c, backoff: 2s, max_backoff: 1s}\n",
			[]string{"max_backoff 1s is less than backoff 2s"}},
		{"not a mapping", "- a\n", []string{"c.yaml:1:1: configuration must be a mapping"}},
		{"yaml syntax", "processes: [\n", []string{"config: c.yaml: yaml:"}},
		{"duplicate key", "runtime_dir: /r\nruntime_dir: /s\nprocesses: [{id: a, command: c}]\n",
			[]string{`c.yaml:2:1: duplicate key "runtime_dir" (first at line 1)`}},
		{"several at once", head + "  - {id: a, command: c, restart: x}\n  - {id: b, commnd: c}\n",
			[]string{`c.yaml:3:34: restart must be`, `c.yaml:4:5: process "b": command is required` + "\n" + `config: c.yaml:4:13: unknown key "commnd"`}},
		{"empty", "", []string{"empty configuration"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("c.yaml", []byte(tt.src))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadConfigMissingFile(t *testing.T) {
	_, err := LoadConfig(t.TempDir() + "/nope.yaml")
	if err == nil || !strings.HasPrefix(err.Error(), "config: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestExampleConfigLoads(t *testing.T) {
	cfg, err := LoadConfig("../procd.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Socket != "/tmp/procd/manager.sock" || len(cfg.Processes) != 3 {
		t.Errorf("config %+v", cfg)
	}
}
