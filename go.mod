module github.com/genesis-esl/genesis

go 1.24
