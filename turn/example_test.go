package turn_test

import (
	"fmt"
	"time"

	"github.com/ringd/ringd/turn"
)

// Credentials for alice valid until a given time; coturn started with
// --use-auth-secret --static-auth-secret=north-wind accepts them too.
func ExampleNewCredentials() {
	c := turn.NewCredentials("north-wind", "alice@example.net", time.Unix(1732300000, 0))
	fmt.Println(c.Username)
	fmt.Println(c.Password)
	fmt.Println(c.Expires.Format(time.RFC3339))
	fmt.Println(c) // never shows the password
	// Output:
	// 1732300000:alice@example.net
	// mdfdSatgi1lcC1oSr/Gft4zm5lQ=
	// 2024-11-22T18:26:40Z
	// turn.Credentials{Expires: 2024-11-22T18:26:40Z, [redacted]}
}

func ExampleParseUsername() {
	expires, user, err := turn.ParseUsername("1732300000:alice@example.net")
	fmt.Println(expires.Format(time.RFC3339), user, err)
	// Output: 2024-11-22T18:26:40Z alice@example.net <nil>
}
