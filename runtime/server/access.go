package server

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/mgmtgen/mgmtgen/runtime/status"
)

// AccessPolicy grants access levels (the schema's access: names) to users
// and groups, for Options.Access: level -> who holds it. Root and the
// server's own user hold every level; a level nobody is given is held by
// them alone.
type AccessPolicy map[string]Grant

// Grant is who holds one access level: these uids, and every member of
// these groups (a peer's primary or supplementary group).
type Grant struct {
	UIDs []uint32
	GIDs []uint32
}

// Allow reports whether peer, whose supplementary groups ctx carries
// (PeerGroupsFromContext), holds level; it is an Options.Access.
func (p AccessPolicy) Allow(ctx context.Context, peer PeerCred, level string) bool {
	if peer.UID == 0 || peer.UID == uint32(os.Geteuid()) {
		return true
	}
	g, ok := p[level]
	if !ok {
		return false
	}
	if slices.Contains(g.UIDs, peer.UID) || slices.Contains(g.GIDs, peer.GID) {
		return true
	}
	for _, gid := range PeerGroupsFromContext(ctx) {
		if slices.Contains(g.GIDs, gid) {
			return true
		}
	}
	return false
}

// Levels lists the levels peer holds among those p names, sorted.
func (p AccessPolicy) Levels(ctx context.Context, peer PeerCred) []string {
	var out []string
	for level := range p {
		if p.Allow(ctx, peer, level) {
			out = append(out, level)
		}
	}
	sort.Strings(out)
	return out
}

// accessChecker is the interceptor pair enforcing Options.Access.
type accessChecker struct {
	allow func(ctx context.Context, peer PeerCred, level string) bool
	log   *slog.Logger
}

// check decides one call: nil, or the PermissionDenied error it gets.
func (a *accessChecker) check(ctx context.Context, info *CallInfo) error {
	if info.Access == "" {
		return nil
	}
	peer, ok := PeerFromContext(ctx)
	if ok && a.allow(ctx, peer, info.Access) {
		a.log.Debug("server: call allowed", "protocol", info.Protocol, "method", info.Method, "access", info.Access,
			"uid", peer.UID, "gid", peer.GID, "pid", peer.PID)
		return nil
	}
	who := "a peer whose credentials are unknown"
	if ok {
		who = fmt.Sprintf("uid %d (gid %d%s)", peer.UID, peer.GID, groupsText(PeerGroupsFromContext(ctx)))
	}
	a.log.Warn("server: call refused: no access", "protocol", info.Protocol, "method", info.Method, "access", info.Access,
		"uid", peer.UID, "gid", peer.GID, "pid", peer.PID, "known", ok)
	return status.Errorf(status.PermissionDenied, "permission denied: %s needs %s access, which %s does not have",
		info.Method, info.Access, who)
}

func groupsText(gids []uint32) string {
	if len(gids) == 0 {
		return ""
	}
	s := make([]string, len(gids))
	for i, g := range gids {
		s[i] = fmt.Sprint(g)
	}
	return ", groups " + strings.Join(s, ",")
}

func (a *accessChecker) unary(ctx context.Context, req any, info *CallInfo, next UnaryHandler) (any, error) {
	if err := a.check(ctx, info); err != nil {
		return nil, err
	}
	return next(ctx, req)
}

func (a *accessChecker) stream(ctx context.Context, req any, s *Stream, info *CallInfo, next StreamHandler) error {
	if err := a.check(ctx, info); err != nil {
		return err
	}
	return next(ctx, req, s)
}
