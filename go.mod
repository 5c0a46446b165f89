module github.com/mgmtgen/mgmtgen

go 1.26

require (
	github.com/tinylib/msgp v1.6.5
	go.uber.org/goleak v1.3.0
)

require github.com/philhofer/fwd v1.2.0 // indirect
