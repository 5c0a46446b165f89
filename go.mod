module github.com/mgmtgen/mgmtgen

go 1.26

require (
	github.com/tinylib/msgp v1.6.5
	go.uber.org/goleak v1.3.0
	gopkg.in/yaml.v3 v3.0.1
)

require (
	github.com/dave/jennifer v1.7.1
	github.com/kr/text v0.2.0 // indirect
	github.com/philhofer/fwd v1.2.0 // indirect
	github.com/rogpeppe/go-internal v1.16.0
	github.com/vmihailenco/msgpack/v5 v5.4.1
	github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
	golang.org/x/sys v0.26.0
	golang.org/x/tools v0.26.0 // indirect
)

tool github.com/mgmtgen/mgmtgen/cmd/mgmtgen
