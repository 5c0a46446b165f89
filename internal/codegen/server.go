package codegen

import (
	"github.com/dave/jennifer/jen"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// genServer emits P_server.go: the Handler interface, UnimplementedHandler,
// typed stream sender interfaces, the outgoing limit checks, the dispatch
// table handed to runtime/server, and NewServer.
func genServer(f *schema.File, nm *names, file *jen.File) {
	genHandler(f, nm, file)
	genUnimplemented(f, nm, file)
	for _, c := range f.Calls {
		if c.Stream != nil {
			genSender(c, nm, file)
		}
	}
	lc := newLimitChecks(f)
	genLimitChecks(f, lc, file)
	genServerTable(f, nm, lc, file)
	genServerOptions(f, nm, file)
}

// handlerSignature is the parameter and result list of c's Handler method.
// With named false the parameters are unnamed (for bodies that ignore them).
func handlerSignature(c *schema.Call, n callNames, named bool) (params, results []jen.Code) {
	param := func(name string, typ jen.Code) jen.Code {
		if !named {
			name = "_"
		}
		return jen.Id(name).Add(typ)
	}
	params = []jen.Code{param("ctx", jen.Qual("context", "Context"))}
	if n.ReqType != "" {
		params = append(params, param("req", ptr(n.ReqType)))
	}
	switch {
	case c.Stream != nil:
		params = append(params, param("out", jen.Id(n.Sender)))
		results = []jen.Code{jen.Error()}
	case n.RespType != "":
		results = []jen.Code{ptr(n.RespType), jen.Error()}
	default:
		results = []jen.Code{jen.Error()}
	}
	return params, results
}

func genHandler(f *schema.File, nm *names, file *jen.File) {
	file.Comment(comment(nm.Handler + " is the server side of the " + f.Package + " protocol: one method per call. " +
		"Embed " + nm.UnimplementedHandler + " to answer calls you do not implement."))
	file.Type().Id(nm.Handler).InterfaceFunc(func(g *jen.Group) {
		for _, c := range f.Calls {
			n := nm.Call(c)
			params, results := handlerSignature(c, n, true)
			g.Comment(docTextIn(n.Method, c.Doc, n.Method+" "+handlerFallbackDoc(c), 1))
			g.Id(n.Method).Params(params...).Params(results...)
		}
	}).Line()
}

func handlerFallbackDoc(c *schema.Call) string {
	if c.Stream != nil {
		return "serves " + c.Request.Name + " requests by sending " + c.Stream.Name + " frames on out."
	}
	return "answers " + c.Request.Name + " requests with " + c.Response.Name + "."
}

func genUnimplemented(f *schema.File, nm *names, file *jen.File) {
	file.Comment(comment(nm.ErrNotImplemented + " is what " + nm.UnimplementedHandler + " answers every call with: " +
		"code Unimplemented, \"" + f.Package + ": not implemented\". On a connection that negotiated the extensions " +
		"the client's error matches it (errors.Is) across the socket."))
	file.Var().Id(nm.ErrNotImplemented).Op("=").Qual(statusPkg, "New").Call(jen.Qual(statusPkg, "Unimplemented"), jen.Lit(f.Package+": not implemented")).Line()
	file.Comment(comment(nm.UnimplementedHandler + " answers every call with " + nm.ErrNotImplemented + ". Embed it by " +
		"value in a " + nm.Handler + " to keep compiling when the schema gains calls."))
	file.Type().Id(nm.UnimplementedHandler).Struct().Line()
	file.Var().Id("_").Id(nm.Handler).Op("=").Id(nm.UnimplementedHandler).Values().Line()
	for _, c := range f.Calls {
		n := nm.Call(c)
		params, results := handlerSignature(c, n, false)
		errExpr := jen.Id(nm.ErrNotImplemented)
		ret := []jen.Code{errExpr}
		if len(results) == 2 {
			ret = []jen.Code{jen.Nil(), errExpr}
		}
		file.Comment(n.Method + " answers with " + nm.ErrNotImplemented + ".")
		file.Func().Params(jen.Id(nm.UnimplementedHandler)).Id(n.Method).Params(params...).Params(results...).
			Block(jen.Return(ret...)).Line()
	}
}

func genSender(c *schema.Call, nm *names, file *jen.File) {
	n := nm.Call(c)
	last := "The stream runs until the client goes away or the handler returns."
	if c.LastWhen != nil {
		last = "A frame with " + c.LastWhen.Name + " true is the last: the stream ends and the " +
			"connection returns to request/response mode."
	}
	file.Comment(comment(n.Sender + " sends the " + c.Stream.Name + " frames of a " + n.Method + " stream. " + last +
		" The runtime's server.Sender implements it."))
	file.Type().Id(n.Sender).Interface(
		jen.Comment("Send sends one frame. It fails once the client has gone away, the stream has").Line().
			Comment("ended or the server is shutting down; a nil p sends the zero value. A frame over").Line().
			Comment("the schema's limits is not sent: the client gets the error response and the stream").Line().
			Comment("ends."),
		jen.Id("Send").Params(framePtrParam(n)...).Error(),
		jen.Comment("Ready says the stream is live (the handler's subscription is in place): on a").Line().
			Comment("connection that negotiated the extensions the client's call returns only after").Line().
			Comment("it, so events from then on reach the client. The first Send implies it."),
		jen.Id("Ready").Params().Error(),
	).Line()
	if n.FrameType == "" {
		genPayloadlessSender(n, file)
	}
}

func framePtrParam(n callNames) []jen.Code {
	if n.FrameType == "" {
		return nil
	}
	return []jen.Code{jen.Id("p").Add(ptr(n.FrameType))}
}

// emitServer is the emitter of P_server.go; nil for a schema without calls.
func emitServer(f *schema.File, nm *names) (*jen.File, error) {
	if len(f.Calls) == 0 {
		return nil, nil
	}
	file := newJenFile(f, nm)
	genServer(f, nm, file)
	return file, nil
}
