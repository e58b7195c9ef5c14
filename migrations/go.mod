module github.com/foresight-run/foresight/migrations

go 1.26.0
