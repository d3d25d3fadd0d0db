module github.com/stellarfw/stellar-go

go 1.26
