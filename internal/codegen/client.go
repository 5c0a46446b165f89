package codegen

import (
	"github.com/dave/jennifer/jen"

	"github.com/mgmtgen/mgmtgen/internal/schema"
)

// genClient emits P_client.go: Client with Dial, one typed method per call,
// a typed stream per streaming call, and cliwrap's untyped Call, Stream and
// ReadFrame.
func genClient(f *schema.File, nm *names, file *jen.File) {
	genClientType(f, nm, file)
	file.Comment("Compile-time check that the client runtime this package was generated for is linked in.")
	file.Const().Id("_").Op("=").Qual(clientPkg, "SupportPackageIsVersion1").Line()
	genErrorText(f, nm, file)
	genUntyped(nm, file)
	genIntrospection(nm, file)
	for _, c := range f.Calls {
		n := nm.Call(c)
		if c.Stream != nil {
			genClientStreamCall(c, n, nm, file)
			genClientStreamType(c, n, file)
		} else {
			genClientUnary(c, n, nm, file)
		}
	}
}

func genClientType(f *schema.File, nm *names, file *jen.File) {
	ctx := jen.Id("ctx").Qual("context", "Context")
	file.Comment(comment(nm.Client + " is a connection to a " + f.Package + " server. It is safe for concurrent " +
		"use: calls share one connection and are matched by sequence number; each stream opens a connection of " +
		"its own. A broken connection fails every call in flight; a later call redials, once, and so does a call " +
		"that failed before any byte of it was written, but a call already written is never sent again (see " +
		"client.Redialer for the rules and the back-off). ClientOptions.NoRedial turns redialing off."))
	file.Type().Id(nm.Client).Struct(jen.Id("conn").Op("*").Qual(clientPkg, "Redialer")).Line()
	file.Comment(comment(nm.ClientOptions + " configure " + nm.DialOptions + ": payload limit, dial timeout, redialing, interceptors."))
	file.Type().Id(nm.ClientOptions).Op("=").Qual(clientPkg, "Options").Line()
	file.Comment(comment(nm.Dial + " connects to the server listening on the Unix socket socketPath."))
	file.Func().Id(nm.Dial).Params(jen.Id("socketPath").String()).Params(jen.Op("*").Id(nm.Client), jen.Error()).Block(
		jen.Return(jen.Id(nm.DialOptions).Call(jen.Qual("context", "Background").Call(), jen.Id("socketPath"), jen.Id(nm.ClientOptions).Values())),
	).Line()
	file.Comment(comment(nm.DialContext + " is " + nm.Dial + " bounded by ctx."))
	file.Func().Id(nm.DialContext).Params(ctx, jen.Id("socketPath").String()).Params(jen.Op("*").Id(nm.Client), jen.Error()).Block(
		jen.Return(jen.Id(nm.DialOptions).Call(jen.Id("ctx"), jen.Id("socketPath"), jen.Id(nm.ClientOptions).Values())),
	).Line()
	file.Comment(comment(nm.DialOptions + " is " + nm.DialContext + " with options. It opens the connection " +
		"with the runtime's hello and speaks the protocol's extensions (error codes, stream status, deadlines) " +
		"when the server answers it; a server that speaks only the base protocol is detected and the client " +
		"falls back to it silently. opts.Legacy skips the hello."))
	file.Func().Id(nm.DialOptions).Params(ctx.Clone(), jen.Id("socketPath").String(), jen.Id("opts").Id(nm.ClientOptions)).
		Params(jen.Op("*").Id(nm.Client), jen.Error()).Block(
		jen.Id("opts").Dot("ErrorText").Op("=").Id(nm.errorText),
		jen.Id("opts").Dot("Negotiate").Op("=").Op("!").Id("opts").Dot("Legacy"),
		jen.List(jen.Id("conn"), jen.Err()).Op(":=").Qual(clientPkg, "NewRedialer").Call(jen.Id("ctx"), jen.Id("socketPath"), jen.Id("opts")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
		jen.Return(jen.Op("&").Id(nm.Client).Values(jen.Dict{jen.Id("conn"): jen.Id("conn")}), jen.Nil()),
	).Line()
}

// genErrorText emits errorText, which recognises the protocol's error
// response where another response was expected, so the client can return the
// server's text as a *client.RemoteError.
func genErrorText(f *schema.File, nm *names, file *jen.File) {
	file.Comment(comment(nm.errorText + " returns the text of the protocol's error response, if body is one."))
	sig := file.Func().Id(nm.errorText).Params(jen.Id("t").Qual(ipcPkg, "MsgType"), jen.Id("body").Index().Byte()).Params(jen.String(), jen.Bool())
	if f.Errors == nil {
		sig.Block(jen.Return(jen.Lit(""), jen.False())).Line()
		return
	}
	sig.Block(
		jen.If(jen.Id("t").Op("!=").Id(nm.MsgConst(f.Errors.Message))).Block(jen.Return(jen.Lit(""), jen.False())),
		jen.Var().Id("p").Id(f.Errors.Message.Payload.Name),
		jen.If(jen.Qual(ipcPkg, "DecodePayload").Call(jen.Id("body"), jen.Op("&").Id("p")).Op("!=").Nil().
			Op("||").Id("p").Dot(f.Errors.Field.Name).Op("==").Lit("")).Block(jen.Return(jen.Lit(""), jen.False())),
		jen.Return(jen.Id("p").Dot(f.Errors.Field.Name), jen.True()),
	).Line()
}

func genUntyped(nm *names, file *jen.File) {
	recv := func() *jen.Statement { return jen.Params(jen.Id("c").Op("*").Id(nm.Client)) }
	conn := func() *jen.Statement { return jen.Id("c").Dot("conn") }
	frame := []jen.Code{jen.Qual(ipcPkg, "Header"), jen.Index().Byte(), jen.Error()}
	file.Comment("Close closes the connection; calls in flight fail. Open streams are not affected.")
	file.Func().Add(recv()).Id(nm.Untyped.Close).Params().Error().Block(jen.Return(conn().Dot("Close").Call())).Line()
	file.Comment("Conn returns the runtime connection underneath, for code working at that level; a later call")
	file.Comment("may replace it with a new one (redialing).")
	file.Func().Add(recv()).Id(nm.Untyped.Conn).Params().Op("*").Qual(clientPkg, "Conn").Block(jen.Return(conn().Dot("Conn").Call())).Line()
	file.Comment("Call is cliwrap's untyped exchange: payload is nil, a msgp.Marshaler or raw msgpack")
	file.Comment("bytes; it returns the response frame as read.")
	file.Func().Add(recv()).Id(nm.Untyped.Call).Params(jen.Id("t").Qual(ipcPkg, "MsgType"), jen.Id("payload").Any()).Params(frame...).
		Block(jen.Return(conn().Dot("Call").Call(jen.Id("t"), jen.Id("payload")))).Line()
	file.Comment("CallContext is Call bounded by ctx.")
	file.Func().Add(recv()).Id(nm.Untyped.CallContext).Params(jen.Id("ctx").Qual("context", "Context"), jen.Id("t").Qual(ipcPkg, "MsgType"), jen.Id("payload").Any()).Params(frame...).
		Block(jen.Return(conn().Dot("CallContext").Call(jen.Id("ctx"), jen.Id("t"), jen.Id("payload")))).Line()
	file.Comment("Stream is cliwrap's untyped stream start: it sends a streaming request on this")
	file.Comment("connection, which is dedicated to the stream from then on; read frames with ReadFrame.")
	file.Func().Add(recv()).Id(nm.Untyped.Stream).Params(jen.Id("t").Qual(ipcPkg, "MsgType"), jen.Id("payload").Any()).Error().
		Block(jen.Return(conn().Dot("Stream").Call(jen.Id("t"), jen.Id("payload")))).Line()
	file.Comment("ReadFrame reads the next frame of a stream started with Stream.")
	file.Func().Add(recv()).Id(nm.Untyped.ReadFrame).Params().Params(frame...).
		Block(jen.Return(conn().Dot("ReadFrame").Call())).Line()
}

// genClientUnary emits the call's client.UnaryCall and its method, one
// call to client.Unary (which owns the nil-request default, decoding and
// the error field).
func genClientUnary(c *schema.Call, n callNames, nm *names, file *jen.File) {
	resp := payloadOrNone(n.RespType)
	fields := jen.Dict{}
	if c.ErrorField != nil {
		fields[jen.Id("ErrorField")] = fieldFunc(resp, jen.String(), c.ErrorField.Name)
	}
	genCallVar(n, "UnaryCall", resp, fields, file)

	params, reqArg, unary := clientRequest(n, "Unary")
	call := unary.Call(jen.Id("ctx"), jen.Id("c").Dot("conn"), jen.Id(n.clientInfo), reqArg)
	file.Add(docComment(n.Method, c.Doc, "sends "+c.Request.Name+" and returns the "+c.Response.Name+"."))
	method := file.Func().Params(jen.Id("c").Op("*").Id(nm.Client)).Id(n.Method).Params(params...)
	if n.RespType == "" {
		method.Error().Block(
			jen.List(jen.Id("_"), jen.Err()).Op(":=").Add(call),
			jen.Return(jen.Err()),
		).Line()
		return
	}
	method.Params(ptr(n.RespType), jen.Error()).Block(jen.Return(call)).Line()
}

// genCallVar emits the call's descriptor, a *client.<kind>[typ] with its
// CallInfo and fields.
func genCallVar(n callNames, kind string, typ *jen.Statement, fields jen.Dict, file *jen.File) {
	fields[jen.Id("Info")] = jen.Qual(clientPkg, "CallInfo").Values(jen.Dict{
		jen.Id("Method"):   jen.Lit(n.Method),
		jen.Id("Request"):  jen.Id(n.MsgRequest),
		jen.Id("Response"): jen.Id(n.MsgResponse),
	})
	file.Comment(n.clientInfo + " describes the " + n.Method + " call.")
	file.Var().Id(n.clientInfo).Op("=").Op("&").Qual(clientPkg, kind).Types(typ.Clone()).Values(fields).Line()
}

// fieldFunc is func(p *typ) result { return p.field }.
func fieldFunc(typ, result *jen.Statement, field string) *jen.Statement {
	return jen.Func().Params(jen.Id("p").Op("*").Add(typ.Clone())).Add(result).Block(jen.Return(jen.Id("p").Dot(field)))
}

// payloadOrNone is a payload type, or client.NoPayload for none.
func payloadOrNone(name string) *jen.Statement {
	if name == "" {
		return jen.Qual(clientPkg, "NoPayload")
	}
	return jen.Id(name)
}

// emitClient is the emitter of P_client.go; nil for a schema without calls.
func emitClient(f *schema.File, nm *names) (*jen.File, error) {
	if len(f.Calls) == 0 {
		return nil, nil
	}
	file := newJenFile(f, nm)
	genClient(f, nm, file)
	return file, nil
}

// clientRequest is the start of a typed client method: its parameters
// (ctx, and req when the request has a payload), the request argument (nil
// without a payload) and the runtime function fn to call, instantiated
// with client.NoPayload for a request without a payload (the other type
// parameters are inferred).
func clientRequest(n callNames, fn string) (params []jen.Code, reqArg jen.Code, call *jen.Statement) {
	params = []jen.Code{jen.Id("ctx").Qual("context", "Context")}
	call = jen.Qual(clientPkg, fn)
	if n.ReqType == "" {
		return params, jen.Nil(), call.Types(jen.Qual(clientPkg, "NoPayload"))
	}
	return append(params, jen.Id("req").Add(ptr(n.ReqType))), jen.Id("req"), call
}

// genIntrospection emits Describe and Ping, the runtime's own calls (the
// names are reserved: no schema call may take them).
func genIntrospection(nm *names, file *jen.File) {
	recv := jen.Params(jen.Id("c").Op("*").Id(nm.Client))
	ctx := jen.Id("ctx").Qual("context", "Context")
	file.Comment(comment(nm.Untyped.Describe + " asks the server what it speaks: the text of the schema its package " +
		"was generated from and that text's SHA-256 (checked), its runtime's version and its extension features. " +
		"A server that speaks only the base protocol (a cliwrap manager) cannot say: the call fails at once with " +
		"a *client.RemoteError of code Unimplemented."))
	file.Func().Add(recv).Id(nm.Untyped.Describe).Params(ctx).Params(jen.Op("*").Qual(clientPkg, "Description"), jen.Error()).
		Block(jen.Return(jen.Id("c").Dot("conn").Dot("Describe").Call(jen.Id("ctx")))).Line()
	file.Comment(comment(nm.Untyped.Ping + " checks that the server answers: one round trip of the runtime's own. " +
		"A server that speaks only the base protocol fails with code Unimplemented (call List or another cheap " +
		"call of the schema instead)."))
	file.Func().Add(recv.Clone()).Id(nm.Untyped.Ping).Params(ctx.Clone()).Error().
		Block(jen.Return(jen.Id("c").Dot("conn").Dot("Ping").Call(jen.Id("ctx")))).Line()
}
