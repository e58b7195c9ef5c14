module github.com/foresight-run/foresight/cmd/foresight

go 1.26.0

replace github.com/foresight-run/foresight/pkg => ../../pkg

replace github.com/foresight-run/foresight/migrations => ../../migrations

replace github.com/foresight-run/foresight/services/gateway => ../../services/gateway

replace github.com/foresight-run/foresight/services/graphbuilder => ../../services/graphbuilder

replace github.com/foresight-run/foresight/services/predictor => ../../services/predictor

replace github.com/foresight-run/foresight/services/allocator => ../../services/allocator

replace github.com/foresight-run/foresight/services/poolmanager => ../../services/poolmanager

replace github.com/foresight-run/foresight/services/monitor => ../../services/monitor

require (
	github.com/foresight-run/foresight/pkg v0.0.0-00010101000000-000000000000
	github.com/foresight-run/foresight/services/allocator v0.0.0-00010101000000-000000000000
	github.com/foresight-run/foresight/services/gateway v0.0.0-00010101000000-000000000000
	github.com/foresight-run/foresight/services/graphbuilder v0.0.0-00010101000000-000000000000
	github.com/foresight-run/foresight/services/monitor v0.0.0-00010101000000-000000000000
	github.com/foresight-run/foresight/services/poolmanager v0.0.0-00010101000000-000000000000
	github.com/foresight-run/foresight/services/predictor v0.0.0-00010101000000-000000000000
	github.com/jackc/pgx/v5 v5.12.0
	github.com/nats-io/nats.go v1.55.0
	github.com/santhosh-tekuri/jsonschema/v6 v6.0.3
	github.com/stretchr/testify v1.12.1
	gonum.org/v1/plot v0.17.0
)

require (
	codeberg.org/go-fonts/liberation v0.5.0 // indirect
	codeberg.org/go-latex/latex v0.2.0 // indirect
	codeberg.org/go-pdf/fpdf v0.11.1 // indirect
	git.sr.ht/~sbinet/gg v0.7.0 // indirect
	github.com/ajstarks/svgo v0.0.0-20211024235047-1546f124cd8b // indirect
	github.com/antithesishq/antithesis-sdk-go v0.8.0-default-no-op // indirect
	github.com/foresight-run/foresight/migrations v0.0.0-00010101000000-000000000000 // indirect
	github.com/go-chi/chi/v5 v5.5.0 // indirect
	github.com/golang-migrate/migrate/v4 v4.20.1 // indirect
	github.com/golang/freetype v0.0.0-20170609003504-e2365dfdc4a0 // indirect
	github.com/google/go-tpm v0.9.8 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jackc/pgerrcode v0.0.0-20220416144525-469b46aa5efa // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/minio/highwayhash v1.0.4 // indirect
	github.com/nats-io/jwt/v2 v2.8.2 // indirect
	github.com/nats-io/nats-server/v2 v2.15.2 // indirect
	github.com/nats-io/nkeys v0.4.16 // indirect
	github.com/nats-io/nuid v1.0.1 // indirect
	github.com/sony/gobreaker/v2 v2.4.0 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	golang.org/x/image v0.30.0 // indirect
	golang.org/x/sync v0.24.0
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	golang.org/x/time v0.16.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
)
