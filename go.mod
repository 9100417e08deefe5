module github.com/genesis-esl/genesis

go 1.24

require (
	github.com/dave/jennifer v1.7.1
	github.com/matryer/is v1.4.1
)
