package daemon

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/calltrail/calltrail/agi"
	"github.com/calltrail/calltrail/callgraph"
)

func newBytesReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

func (d *Daemon) agiServer() (*agi.Server, error) {
	mux := agi.NewServeMux()
	mux.HandleFunc("tag", d.serveTag)
	for path, h := range d.opts.AGIHandlers {
		mux.Handle(path, h)
	}
	nets, err := ParseAllow(d.opts.AGIAllow)
	if err != nil {
		return nil, err
	}
	return &agi.Server{Handler: mux, AllowedNets: nets, Logger: d.log.With("part", "fastagi")}, nil
}

// ParseAllow reads an allow-list of networks ("10.0.0.0/8") and single
// addresses ("192.0.2.7").
func ParseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("fastagi allow %q: not a network or an address", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// serveTag is the dialplan's way to tag a call:
//
//	AGI(agi://calltrail:4573/tag?account=acme&customer=42)
//	AGI(agi://calltrail:4573/tag,account=acme,customer=42)
//
// account names who pays; every other key=value is kept with the leg. With
// cdr=1 it also sets CDR(accountcode) and CDR(userfield) on the channel, so
// Asterisk's own CDR agrees. The tag reaches the engine through the
// journal, keyed by agi_uniqueid. It answers CALLTRAIL_TAGGED=1.
func (d *Daemon) serveTag(ctx context.Context, s *agi.Session) error {
	r := s.Request
	uid := r.UniqueID()
	if uid == "" {
		return fmt.Errorf("tag: no agi_uniqueid in the request from %s", r.RemoteAddr)
	}
	tags := map[string]string{}
	for k, vs := range r.Query {
		if len(vs) > 0 {
			tags[k] = vs[len(vs)-1]
		}
	}
	for _, a := range r.Args {
		if k, v, ok := strings.Cut(a, "="); ok && k != "" {
			tags[k] = v
		}
	}
	setCDR := tags["cdr"] == "1" || tags["cdr"] == "yes"
	delete(tags, "cdr")
	account := tags["account"]
	delete(tags, "account")

	p := d.pipelineFor(r.RemoteAddr)
	msg := callgraph.TagMessage(uid, account, tags)
	if p == nil {
		// Several servers and no way to tell which one called: every
		// engine gets it; the one with the channel applies it, the others
		// keep it briefly and drop it.
		for _, q := range d.order {
			if err := q.Tag(ctx, msg); err != nil {
				return err
			}
		}
	} else if err := p.Tag(ctx, msg); err != nil {
		return err
	}
	if setCDR {
		if account != "" {
			if err := s.SetVariable(ctx, "CDR(accountcode)", account); err != nil {
				return fmt.Errorf("tag %s: %w", uid, err)
			}
		}
		if len(tags) > 0 {
			if err := s.SetVariable(ctx, "CDR(userfield)", callgraph.Userfield(tags)); err != nil {
				return fmt.Errorf("tag %s: %w", uid, err)
			}
		}
	}
	return s.SetVariable(ctx, "CALLTRAIL_TAGGED", "1")
}

// pipelineFor picks the server a FastAGI connection came from: the only one,
// or the one whose AMI address is the peer's.
func (d *Daemon) pipelineFor(remote string) *pipeline {
	if len(d.opts.Sources) == 1 {
		return d.pipes[d.opts.Sources[0].ID]
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return nil
	}
	var found *pipeline
	for _, s := range d.opts.Sources {
		h, _, err := net.SplitHostPort(s.Addr)
		if err != nil {
			continue
		}
		if h == host || (isLoopback(h) && isLoopback(host)) {
			if found != nil {
				return nil // ambiguous
			}
			found = d.pipes[s.ID]
		}
	}
	return found
}

func isLoopback(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}
