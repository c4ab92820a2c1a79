package scram_test

import (
	"context"
	"fmt"

	"mellium.im/sasl"

	"github.com/ringd/ringd/storage"
	"github.com/ringd/ringd/xmpp/scram"
)

// A SCRAM-SHA-256 login as the c2s layer drives it, with mellium.im/sasl as
// the client. The c2s layer base64-encodes out into <challenge/> or
// <success/> and decodes <response/> into the next Step.
func ExampleServer_Step() {
	cred, err := scram.NewCredentials("correct horse", scram.DefaultIterations)
	if err != nil {
		panic(err)
	}
	lookup := func(_ context.Context, username string) (storage.Credentials, error) {
		if username != "alice" {
			return storage.Credentials{}, storage.ErrNotFound
		}
		return cred, nil
	}
	s, err := scram.NewServer(scram.SHA256, lookup,
		scram.WithSecret([]byte("a stable secret from the configuration")),
		scram.WithDomain("example.com"))
	if err != nil {
		panic(err)
	}

	client := sasl.NewClient(sasl.ScramSha256, sasl.Credentials(func() (user, pass, authzid []byte) {
		return []byte("Alice"), []byte("correct horse"), nil
	}))
	_, in, _ := client.Step(nil) // initial response in <auth/>
	ctx := context.Background()
	for {
		out, done, err := s.Step(ctx, in)
		if err != nil {
			fmt.Println("<failure/> with", err.(*scram.FailureError).Condition())
			return
		}
		if done {
			if _, _, err := client.Step(out); err != nil {
				fmt.Println("client rejects the server:", err)
			}
			fmt.Println("<success/>; authenticated as", s.Username())
			return
		}
		_, in, _ = client.Step(out)
	}
	// Output: <success/>; authenticated as alice
}

func ExampleNewCredentials() {
	cred, err := scram.NewCredentials("correct horse", 0)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(cred.Salt), cred.Iterations, len(cred.StoredKey1), len(cred.StoredKey256))
	// Output: 16 4096 20 32
}
