package supervisor

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Restart is a restart policy: what the supervisor does when a child exits
// without having been asked to stop.
type Restart string

// Restart policies.
const (
	RestartNever     Restart = "never"      // never restart
	RestartOnFailure Restart = "on-failure" // restart after a non-zero exit or a signal
	RestartAlways    Restart = "always"     // restart after any exit
)

// Defaults applied by ParseConfig to keys that are absent.
const (
	DefaultRestart     = RestartOnFailure
	DefaultMaxRestarts = 5
	DefaultBackoff     = time.Second
	DefaultMaxBackoff  = 30 * time.Second
	DefaultStopTimeout = 10 * time.Second
	DefaultLogBuffer   = 1 << 20
	// MaxLogBuffer bounds log_buffer (per stream, per process).
	MaxLogBuffer = 1 << 30
	// MaxIDLen bounds a process id.
	MaxIDLen = 256
)

// SocketName is the socket file name under runtime_dir.
const SocketName = "manager.sock"

// Config is a validated procd configuration.
type Config struct {
	// RuntimeDir is the directory holding the socket; empty when Socket was
	// given explicitly.
	RuntimeDir string
	// Socket is the socket path: the configured one, or RuntimeDir/manager.sock.
	Socket string
	// Processes in configuration order.
	Processes []ProcessConfig
	// Access grants the protocol's access levels (read, admin: the schema's
	// access:) to users and groups; nil when the config has no access:
	// section (then the socket's permissions alone decide who may call).
	// Root and procd's own user hold every level either way.
	Access map[string]AccessGrant
}

// AccessGrant is who holds one access level: these users and the members
// of these groups, resolved to ids when the config is loaded.
type AccessGrant struct {
	UIDs []uint32
	GIDs []uint32
}

// ProcessConfig describes one supervised process.
type ProcessConfig struct {
	ID          string            // unique id, [A-Za-z0-9._-], at most MaxIDLen bytes
	Name        string            // display name; defaults to ID
	Command     string            // program; looked up in PATH when it has no slash
	Args        []string          // arguments after the program name
	Env         map[string]string // added to (and overriding) procd's environment
	Dir         string            // working directory; empty: procd's
	Restart     Restart           // restart policy
	MaxRestarts int               // consecutive restarts before "failed"; -1: unlimited
	Backoff     time.Duration     // delay before the first restart; doubles each time
	MaxBackoff  time.Duration     // cap of the restart delay
	StopTimeout time.Duration     // SIGTERM to SIGKILL delay
	LogBuffer   int               // bytes kept per stream
}

var (
	rootKeys    = []string{"runtime_dir", "socket", "processes", "access"}
	grantKeys   = []string{"users", "groups"}
	processKeys = []string{"id", "name", "command", "args", "env", "dir", "restart",
		"max_restarts", "backoff", "max_backoff", "stop_timeout", "log_buffer"}
)

// LoadConfig reads and validates the YAML configuration file at path.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig parses and validates a YAML configuration. name prefixes error
// positions ("name:line:col: message"). Every problem found is reported; the
// returned error joins them in file order.
func ParseConfig(name string, data []byte) (*Config, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config: %s: %w", name, err)
	}
	p := &parser{name: name}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("config: %s: empty configuration", name)
	}
	cfg := p.root(doc.Content[0])
	if err := p.err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parser walks the YAML node tree, collecting positioned errors.
type parser struct {
	name string
	errs []posError
}

// posError is one configuration error and where it is.
type posError struct {
	line, col int
	err       error
}

func (p *parser) errorf(n *yaml.Node, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.errs = append(p.errs, posError{n.Line, n.Column,
		fmt.Errorf("config: %s:%d:%d: %s", p.name, n.Line, n.Column, msg)})
}

// err returns every error, sorted by position, joined; nil when none.
func (p *parser) err() error {
	slices.SortStableFunc(p.errs, func(a, b posError) int {
		return cmp.Or(cmp.Compare(a.line, b.line), cmp.Compare(a.col, b.col))
	})
	errs := make([]error, len(p.errs))
	for i, e := range p.errs {
		errs[i] = e.err
	}
	return errors.Join(errs...)
}

// fields checks that n is a mapping with only known keys and returns the
// value node of each key.
func (p *parser) fields(n *yaml.Node, what string, known []string) map[string]*yaml.Node {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "%s must be a mapping", what)
		return nil
	}
	out := make(map[string]*yaml.Node)
	keys := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if p.duplicate(keys, k) {
			continue
		}
		if !slices.Contains(known, k.Value) {
			p.errorf(k, "unknown key %q in %s", k.Value, what)
			continue
		}
		out[k.Value] = v
	}
	return out
}

// duplicate reports a key seen before in the same mapping.
func (p *parser) duplicate(seen map[string]*yaml.Node, k *yaml.Node) bool {
	if prev, ok := seen[k.Value]; ok {
		p.errorf(k, "duplicate key %q (first at line %d)", k.Value, prev.Line)
		return true
	}
	seen[k.Value] = k
	return false
}

func (p *parser) root(n *yaml.Node) *Config {
	f := p.fields(n, "configuration", rootKeys)
	if f == nil {
		return nil
	}
	cfg := &Config{}
	cfg.RuntimeDir = p.str(f["runtime_dir"])
	cfg.Socket = p.str(f["socket"])
	switch {
	case cfg.RuntimeDir != "" && cfg.Socket != "":
		p.errorf(f["socket"], "set runtime_dir or socket, not both")
	case cfg.RuntimeDir != "":
		cfg.Socket = filepath.Join(cfg.RuntimeDir, SocketName)
	case cfg.Socket == "":
		p.errorf(n, "runtime_dir or socket is required")
	}
	procs := f["processes"]
	if procs == nil || procs.Kind != yaml.SequenceNode || len(procs.Content) == 0 {
		at := n
		if procs != nil {
			at = procs
		}
		p.errorf(at, "processes must be a non-empty list")
		return cfg
	}
	seen := make(map[string]*yaml.Node)
	for _, pn := range procs.Content {
		pc, idNode := p.process(pn)
		if pc == nil {
			continue
		}
		if prev, dup := seen[pc.ID]; dup && pc.ID != "" {
			p.errorf(idNode, "duplicate process id %q (first at line %d)", pc.ID, prev.Line)
		}
		seen[pc.ID] = idNode
		cfg.Processes = append(cfg.Processes, *pc)
	}
	if a := f["access"]; a != nil {
		cfg.Access = p.access(a)
	}
	return cfg
}

// access reads the access: section: level -> {users: [...], groups: [...]},
// names or numeric ids, each resolved now (an unknown one is an error).
func (p *parser) access(n *yaml.Node) map[string]AccessGrant {
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "access must map access levels to {users, groups}")
		return nil
	}
	out := make(map[string]AccessGrant)
	seen := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if p.duplicate(seen, k) {
			continue
		}
		f := p.fields(v, fmt.Sprintf("access level %q", k.Value), grantKeys)
		if f == nil {
			continue
		}
		var g AccessGrant
		for _, u := range p.strsNodes(f["users"]) {
			if id, ok := lookupID(u.Value, true); ok {
				g.UIDs = append(g.UIDs, id)
			} else {
				p.errorf(u, "access level %q: unknown user %q", k.Value, u.Value)
			}
		}
		for _, gr := range p.strsNodes(f["groups"]) {
			if id, ok := lookupID(gr.Value, false); ok {
				g.GIDs = append(g.GIDs, id)
			} else {
				p.errorf(gr, "access level %q: unknown group %q", k.Value, gr.Value)
			}
		}
		out[k.Value] = g
	}
	return out
}

// strsNodes is strs keeping each item's node, for errors.
func (p *parser) strsNodes(n *yaml.Node) []*yaml.Node {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "expected a list of names")
		return nil
	}
	var out []*yaml.Node
	for _, c := range n.Content {
		if p.scalar(c, "a name") {
			out = append(out, c)
		}
	}
	return out
}

// lookupID resolves a user (or group) name, or a numeric id, to its id.
func lookupID(name string, isUser bool) (uint32, bool) {
	if id, err := strconv.ParseUint(name, 10, 32); err == nil {
		return uint32(id), true
	}
	var idStr string
	if isUser {
		u, err := user.Lookup(name)
		if err != nil {
			return 0, false
		}
		idStr = u.Uid
	} else {
		g, err := user.LookupGroup(name)
		if err != nil {
			return 0, false
		}
		idStr = g.Gid
	}
	id, err := strconv.ParseUint(idStr, 10, 32)
	return uint32(id), err == nil
}

func (p *parser) process(n *yaml.Node) (*ProcessConfig, *yaml.Node) {
	f := p.fields(n, "process", processKeys)
	if f == nil {
		return nil, nil
	}
	pc := &ProcessConfig{
		ID: p.str(f["id"]), Name: p.str(f["name"]), Command: p.str(f["command"]),
		Args: p.strs(f["args"]), Env: p.env(f["env"]), Dir: p.str(f["dir"]),
		Restart:     Restart(p.str(f["restart"])),
		MaxRestarts: p.integer(f["max_restarts"], DefaultMaxRestarts, -1, 1<<20),
		Backoff:     p.duration(f["backoff"], DefaultBackoff),
		MaxBackoff:  p.duration(f["max_backoff"], DefaultMaxBackoff),
		StopTimeout: p.duration(f["stop_timeout"], DefaultStopTimeout),
		LogBuffer:   p.integer(f["log_buffer"], DefaultLogBuffer, 1, MaxLogBuffer),
	}
	idNode := f["id"]
	if idNode == nil {
		idNode = n
	}
	if err := checkID(pc.ID); err != nil {
		p.errorf(idNode, "%v", err)
	}
	if pc.Name == "" {
		pc.Name = pc.ID
	}
	if pc.Command == "" {
		p.errorf(n, "process %q: command is required", pc.ID)
	}
	switch pc.Restart {
	case "":
		pc.Restart = DefaultRestart
	case RestartNever, RestartOnFailure, RestartAlways:
	default:
		p.errorf(f["restart"], "restart must be never, on-failure or always, not %q", pc.Restart)
	}
	if f["max_backoff"] == nil && pc.MaxBackoff < pc.Backoff {
		pc.MaxBackoff = pc.Backoff
	}
	if pc.MaxBackoff < pc.Backoff {
		p.errorf(f["max_backoff"], "max_backoff %v is less than backoff %v", pc.MaxBackoff, pc.Backoff)
	}
	return pc, idNode
}

func checkID(id string) error {
	if id == "" {
		return errors.New("process id is required")
	}
	if len(id) > MaxIDLen {
		return fmt.Errorf("process id longer than %d bytes", MaxIDLen)
	}
	for _, r := range id {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
			r == '.' || r == '_' || r == '-'
		if !ok {
			return fmt.Errorf("process id %q: only letters, digits, '.', '_' and '-' are allowed", id)
		}
	}
	return nil
}

func (p *parser) scalar(n *yaml.Node, what string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, "expected %s", what)
		return false
	}
	return true
}

func (p *parser) str(n *yaml.Node) string {
	if n == nil || !p.scalar(n, "a string") {
		return ""
	}
	return n.Value
}

func (p *parser) strs(n *yaml.Node) []string {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, "expected a list of strings")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, c := range n.Content {
		out = append(out, p.str(c))
	}
	return out
}

func (p *parser) env(n *yaml.Node) map[string]string {
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		p.errorf(n, "env must be a mapping of NAME: value")
		return nil
	}
	out := make(map[string]string)
	keys := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if p.duplicate(keys, k) {
			continue
		}
		name := p.str(k)
		if name == "" || strings.ContainsAny(name, "=\x00") {
			p.errorf(k, "invalid environment variable name %q", name)
		}
		val := p.str(v)
		if strings.ContainsAny(val, "\x00") {
			p.errorf(v, "environment value of %q contains NUL", name)
		}
		out[name] = val
	}
	return out
}

func (p *parser) integer(n *yaml.Node, def, lo, hi int) int {
	if n == nil {
		return def
	}
	if !p.scalar(n, "an integer") {
		return def
	}
	v64, err := strconv.ParseInt(n.Value, 0, 64)
	if err != nil || n.Tag != "!!int" {
		p.errorf(n, "expected an integer, not %q", n.Value)
		return def
	}
	v := int(v64)
	if v < lo || v > hi {
		p.errorf(n, "%d out of range [%d, %d]", v, lo, hi)
		return def
	}
	return v
}

func (p *parser) duration(n *yaml.Node, def time.Duration) time.Duration {
	if n == nil {
		return def
	}
	if !p.scalar(n, "a duration") {
		return def
	}
	d, err := time.ParseDuration(n.Value)
	if err != nil || d <= 0 {
		p.errorf(n, "expected a positive duration such as \"500ms\" or \"2s\", not %q", n.Value)
		return def
	}
	return d
}
