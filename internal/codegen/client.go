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
	for _, c := range f.Calls {
		n := nm.Call(c)
		file.Var().Id(n.clientInfo).Op("=").Op("&").Qual(clientPkg, "CallInfo").Values(jen.Dict{
			jen.Id("Method"):   jen.Lit(n.Method),
			jen.Id("Request"):  jen.Id(n.MsgRequest),
			jen.Id("Response"): jen.Id(n.MsgResponse),
		}).Line()
		if c.Stream != nil {
			genClientStreamCall(c, n, nm, file)
			genClientStreamType(c, n, nm, file)
		} else {
			genClientUnary(c, n, nm, file)
		}
	}
}

func genClientType(f *schema.File, nm *names, file *jen.File) {
	ctx := jen.Id("ctx").Qual("context", "Context")
	file.Comment("Client is a connection to a " + f.Package + " server. It is safe for concurrent use: calls")
	file.Comment("share one connection and are matched by sequence number; each stream opens a connection")
	file.Comment("of its own. A broken connection fails every call in flight and later ones; the client")
	file.Comment("does not redial: Dial again.")
	file.Type().Id("Client").Struct(jen.Id("conn").Op("*").Qual(clientPkg, "Conn")).Line()
	file.Comment("ClientOptions configure DialOptions: payload limit, dial timeout, interceptors.")
	file.Type().Id("ClientOptions").Op("=").Qual(clientPkg, "Options").Line()
	file.Comment("Dial connects to the server listening on the Unix socket socketPath.")
	file.Func().Id("Dial").Params(jen.Id("socketPath").String()).Params(jen.Op("*").Id("Client"), jen.Error()).Block(
		jen.Return(jen.Id("DialOptions").Call(jen.Qual("context", "Background").Call(), jen.Id("socketPath"), jen.Id("ClientOptions").Values())),
	).Line()
	file.Comment("DialContext is Dial bounded by ctx.")
	file.Func().Id("DialContext").Params(ctx, jen.Id("socketPath").String()).Params(jen.Op("*").Id("Client"), jen.Error()).Block(
		jen.Return(jen.Id("DialOptions").Call(jen.Id("ctx"), jen.Id("socketPath"), jen.Id("ClientOptions").Values())),
	).Line()
	file.Comment("DialOptions is DialContext with options.")
	file.Func().Id("DialOptions").Params(ctx.Clone(), jen.Id("socketPath").String(), jen.Id("opts").Id("ClientOptions")).
		Params(jen.Op("*").Id("Client"), jen.Error()).Block(
		jen.Id("opts").Dot("ErrorText").Op("=").Id("errorText"),
		jen.List(jen.Id("conn"), jen.Err()).Op(":=").Qual(clientPkg, "DialContext").Call(jen.Id("ctx"), jen.Id("socketPath"), jen.Id("opts")),
		jen.If(jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
		jen.Return(jen.Op("&").Id("Client").Values(jen.Dict{jen.Id("conn"): jen.Id("conn")}), jen.Nil()),
	).Line()
}

// genErrorText emits errorText, which recognises the protocol's error
// response where another response was expected, so the client can return the
// server's text as a *client.RemoteError.
func genErrorText(f *schema.File, nm *names, file *jen.File) {
	file.Comment("errorText returns the text of the protocol's error response, if body is one.")
	sig := file.Func().Id("errorText").Params(jen.Id("t").Qual(ipcPkg, "MsgType"), jen.Id("body").Index().Byte()).Params(jen.String(), jen.Bool())
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
	recv := func() *jen.Statement { return jen.Params(jen.Id("c").Op("*").Id("Client")) }
	conn := func() *jen.Statement { return jen.Id("c").Dot("conn") }
	frame := []jen.Code{jen.Qual(ipcPkg, "Header"), jen.Index().Byte(), jen.Error()}
	file.Comment("Close closes the connection; calls in flight fail. Open streams are not affected.")
	file.Func().Add(recv()).Id("Close").Params().Error().Block(jen.Return(conn().Dot("Close").Call())).Line()
	file.Comment("Conn returns the runtime connection underneath, for code working at that level.")
	file.Func().Add(recv()).Id("Conn").Params().Op("*").Qual(clientPkg, "Conn").Block(jen.Return(conn())).Line()
	file.Comment("Call is cliwrap's untyped exchange: payload is nil, a msgp.Marshaler or raw msgpack")
	file.Comment("bytes; it returns the response frame as read.")
	file.Func().Add(recv()).Id("Call").Params(jen.Id("t").Qual(ipcPkg, "MsgType"), jen.Id("payload").Any()).Params(frame...).
		Block(jen.Return(conn().Dot("Call").Call(jen.Id("t"), jen.Id("payload")))).Line()
	file.Comment("Stream is cliwrap's untyped stream start: it sends a streaming request on this")
	file.Comment("connection, which is dedicated to the stream from then on; read frames with ReadFrame.")
	file.Func().Add(recv()).Id("Stream").Params(jen.Id("t").Qual(ipcPkg, "MsgType"), jen.Id("payload").Any()).Error().
		Block(jen.Return(conn().Dot("Stream").Call(jen.Id("t"), jen.Id("payload")))).Line()
	file.Comment("ReadFrame reads the next frame of a stream started with Stream.")
	file.Func().Add(recv()).Id("ReadFrame").Params().Params(frame...).
		Block(jen.Return(conn().Dot("ReadFrame").Call())).Line()
}

func genClientUnary(c *schema.Call, n callNames, nm *names, file *jen.File) {
	params, reqArg, body := clientRequest(n)
	invoke := func(resp jen.Code) *jen.Statement {
		return jen.Id("c").Dot("conn").Dot("Invoke").Call(jen.Id("ctx"), jen.Id(n.clientInfo), reqArg, resp)
	}
	file.Add(docComment(n.Method, c.Doc, "sends "+c.Request.Name+" and returns the "+c.Response.Name+"."))
	if n.RespType == "" {
		file.Func().Params(jen.Id("c").Op("*").Id("Client")).Id(n.Method).Params(params...).Error().
			Block(append(body, jen.Return(invoke(jen.Nil())))...).Line()
		return
	}
	body = append(body,
		jen.Id("resp").Op(":=").New(jen.Id(n.RespType)),
		jen.If(jen.Err().Op(":=").Add(invoke(jen.Id("resp"))), jen.Err().Op("!=").Nil()).Block(jen.Return(jen.Nil(), jen.Err())),
	)
	if c.ErrorField != nil {
		body = append(body, jen.If(jen.Id("resp").Dot(c.ErrorField.Name).Op("!=").Lit("")).Block(
			jen.Return(jen.Id("resp"), jen.Op("&").Qual(clientPkg, "RemoteError").Values(jen.Dict{
				jen.Id("Method"): jen.Lit(n.Method),
				jen.Id("Text"):   jen.Id("resp").Dot(c.ErrorField.Name),
			}))))
	}
	body = append(body, jen.Return(jen.Id("resp"), jen.Nil()))
	file.Func().Params(jen.Id("c").Op("*").Id("Client")).Id(n.Method).Params(params...).Params(ptr(n.RespType), jen.Error()).
		Block(body...).Line()
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

// clientRequest is the start of a typed client method: its parameters (ctx,
// and req when the request has a payload), the request argument to send
// (nil without a payload), and a body that turns a nil req into the zero
// value.
func clientRequest(n callNames) (params []jen.Code, reqArg jen.Code, body []jen.Code) {
	params = []jen.Code{jen.Id("ctx").Qual("context", "Context")}
	if n.ReqType == "" {
		return params, jen.Nil(), nil
	}
	params = append(params, jen.Id("req").Add(ptr(n.ReqType)))
	body = []jen.Code{jen.If(jen.Id("req").Op("==").Nil()).Block(jen.Id("req").Op("=").New(jen.Id(n.ReqType)))}
	return params, jen.Id("req"), body
}
