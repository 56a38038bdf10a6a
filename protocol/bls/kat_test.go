package bls

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/known_answers.json from the current code")

const katFile = "testdata/known_answers.json"

// knownAnswers pins this package's output for a fixed key, so that a change
// of library, tag or encoding cannot slip by unnoticed.
type knownAnswers struct {
	Comment           string         `json:"comment"`
	SecretKey         string         `json:"secret_key"`
	PublicKey         string         `json:"public_key"`
	ProofOfPossession string         `json:"proof_of_possession"`
	Signatures        []knownSig     `json:"signatures"`
	Aggregate         knownAggregate `json:"aggregate"`
}

type knownSig struct {
	Message   string `json:"message"`
	Signature string `json:"signature"`
}

// knownAggregate: keys are SecretKey + i for i = 0..n-1, all signing Message.
type knownAggregate struct {
	Message   string `json:"message"`
	PublicKey string `json:"aggregate_public_key"`
	Signature string `json:"aggregate_signature"`
}

func katKeys(t *testing.T, n int) []*SecretKey {
	t.Helper()
	base, err := hex.DecodeString(katSecret)
	if err != nil {
		t.Fatal(err)
	}
	sks := make([]*SecretKey, n)
	for i := range sks {
		b := append([]byte(nil), base...)
		b[len(b)-1] += byte(i)
		sk, err := SecretKeyFromBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		sks[i] = sk
	}
	return sks
}

// katSecret is an arbitrary fixed scalar below r, ending in 0x00 so that
// adding a small i cannot carry.
const katSecret = "3a1f6c0b8d2e4f5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c300"

func computeKnownAnswers(t *testing.T) knownAnswers {
	sks := katKeys(t, 4)
	sk := sks[0]
	pk := sk.PublicKey()
	ka := knownAnswers{
		Comment:           "protocol/bls known answers; regenerate with go test ./protocol/bls -run TestKnownAnswers -update and review the diff",
		SecretKey:         katSecret,
		PublicKey:         pk.String(),
		ProofOfPossession: ProofOfPossession(sk).String(),
	}
	for _, m := range [][]byte{nil, []byte("abc"), bytes.Repeat([]byte{0x5a}, 300)} {
		ka.Signatures = append(ka.Signatures, knownSig{hex.EncodeToString(m), Sign(sk, m).String()})
	}
	msg := []byte("trellis commit height 1")
	pks := make([]PublicKey, len(sks))
	sigs := make([]Signature, len(sks))
	for i, k := range sks {
		pks[i], sigs[i] = k.PublicKey(), Sign(k, msg)
	}
	apk, err := AggregatePublicKeys(pks)
	if err != nil {
		t.Fatal(err)
	}
	asig, err := AggregateSignatures(sigs)
	if err != nil {
		t.Fatal(err)
	}
	ka.Aggregate = knownAggregate{hex.EncodeToString(msg), apk.String(), asig.String()}
	return ka
}

func TestKnownAnswers(t *testing.T) {
	got := computeKnownAnswers(t)
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(katFile), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(katFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", katFile)
	}
	b, err := os.ReadFile(katFile)
	if err != nil {
		t.Fatalf("%v (generate it with -update)", err)
	}
	var want knownAnswers
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}

	check := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s:\n got  %s\n want %s", what, got, want)
		}
	}
	check("secret key", got.SecretKey, want.SecretKey)
	check("public key", got.PublicKey, want.PublicKey)
	check("proof of possession", got.ProofOfPossession, want.ProofOfPossession)
	if len(got.Signatures) != len(want.Signatures) {
		t.Fatalf("%d signatures, testdata has %d", len(got.Signatures), len(want.Signatures))
	}
	for i := range got.Signatures {
		check("message", got.Signatures[i].Message, want.Signatures[i].Message)
		check("signature of "+want.Signatures[i].Message, got.Signatures[i].Signature, want.Signatures[i].Signature)
	}
	check("aggregate message", got.Aggregate.Message, want.Aggregate.Message)
	check("aggregate public key", got.Aggregate.PublicKey, want.Aggregate.PublicKey)
	check("aggregate signature", got.Aggregate.Signature, want.Aggregate.Signature)

	// The pinned bytes must also decode and verify on their own.
	var pk PublicKey
	if err := pk.UnmarshalText([]byte(want.PublicKey)); err != nil {
		t.Fatal(err)
	}
	var pop Signature
	if err := pop.UnmarshalText([]byte(want.ProofOfPossession)); err != nil {
		t.Fatal(err)
	}
	if err := VerifyProofOfPossession(pk, pop); err != nil {
		t.Fatalf("pinned proof of possession: %v", err)
	}
	for _, s := range want.Signatures {
		var sig Signature
		if err := sig.UnmarshalText([]byte(s.Signature)); err != nil {
			t.Fatal(err)
		}
		m, _ := hex.DecodeString(s.Message)
		if err := Verify(pk, m, sig); err != nil {
			t.Fatalf("pinned signature of %q: %v", s.Message, err)
		}
	}
	var apk PublicKey
	var asig Signature
	if err := apk.UnmarshalText([]byte(want.Aggregate.PublicKey)); err != nil {
		t.Fatal(err)
	}
	if err := asig.UnmarshalText([]byte(want.Aggregate.Signature)); err != nil {
		t.Fatal(err)
	}
	m, _ := hex.DecodeString(want.Aggregate.Message)
	if err := Verify(apk, m, asig); err != nil {
		t.Fatalf("pinned aggregate: %v", err)
	}
}

// TestEthereumVectors checks interoperability: Ethereum's consensus layer
// uses the same scheme and message tag, and these are the sign cases of
// ethereum/consensus-spec-tests (general/phase0/bls/sign), which blst,
// herumi/mcl and py_ecc all reproduce.
func TestEthereumVectors(t *testing.T) {
	keys := []struct{ sk, pk string }{
		{"263dbd792f5b1be47ed85f8938c0f29586af0d3ac7b977f21c278fe1462040e3", "a491d1b0ecd9bb917989f0e74f0dea0422eac4a873e5e2644f368dffb9a6e20fd6e10c1b77654d067c0618f6e5a7f79a"},
		{"47b8192d77bf871b62e87859d653922725724a5c031afeabc60bcef5ff665138", "b301803f8b5ac4a1133581fc676dfedc60d891dd5fa99028805e5ea5b08d3491af75d0707adab3b70c6a6a580217bf81"},
		{"328388aff0d4a5b7dc9205abd374e7e98f3cd9f3418edb4eafda5fb16473d216", "b53d21a4cfd562c469cc81514d4ce5a6b577d8403d32a394dc265dd190b47fa9f829fdd7963afdf972e5e77854051f6f"},
	}
	sigs := []struct {
		key      int
		msg, sig string
	}{
		{0, "0000000000000000000000000000000000000000000000000000000000000000", "b6ed936746e01f8ecf281f020953fbf1f01debd5657c4a383940b020b26507f6076334f91e2366c96e9ab279fb5158090352ea1c5b0c9274504f4f0e7053af24802e51e4568d164fe986834f41e55c8e850ce1f98458c0cfc9ab380b55285a55"},
		{0, "5656565656565656565656565656565656565656565656565656565656565656", "882730e5d03f6b42c3abc26d3372625034e1d871b65a8a6b900a56dae22da98abbe1b68f85e49fe7652a55ec3d0591c20767677e33e5cbb1207315c41a9ac03be39c2e7668edc043d6cb1d9fd93033caa8a1c5b0e84bedaeb6c64972503a43eb"},
		{0, "abababababababababababababababababababababababababababababababab", "91347bccf740d859038fcdcaf233eeceb2a436bcaaee9b2aa3bfb70efe29dfb2677562ccbea1c8e061fb9971b0753c240622fab78489ce96768259fc01360346da5b9f579e5da0d941e4c6ba18a0e64906082375394f337fa1af2b7127b0d121"},
		{1, "0000000000000000000000000000000000000000000000000000000000000000", "b23c46be3a001c63ca711f87a005c200cc550b9429d5f4eb38d74322144f1b63926da3388979e5321012fb1a0526bcd100b5ef5fe72628ce4cd5e904aeaa3279527843fae5ca9ca675f4f51ed8f83bbf7155da9ecc9663100a885d5dc6df96d9"},
		{1, "5656565656565656565656565656565656565656565656565656565656565656", "af1390c3c47acdb37131a51216da683c509fce0e954328a59f93aebda7e4ff974ba208d9a4a2a2389f892a9d418d618418dd7f7a6bc7aa0da999a9d3a5b815bc085e14fd001f6a1948768a3f4afefc8b8240dda329f984cb345c6363272ba4fe"},
		{1, "abababababababababababababababababababababababababababababababab", "9674e2228034527f4c083206032b020310face156d4a4685e2fcaec2f6f3665aa635d90347b6ce124eb879266b1e801d185de36a0a289b85e9039662634f2eea1e02e670bc7ab849d006a70b2f93b84597558a05b879c8d445f387a5d5b653df"},
		{2, "0000000000000000000000000000000000000000000000000000000000000000", "948a7cb99f76d616c2c564ce9bf4a519f1bea6b0a624a02276443c245854219fabb8d4ce061d255af5330b078d5380681751aa7053da2c98bae898edc218c75f07e24d8802a17cd1f6833b71e58f5eb5b94208b4d0bb3848cecb075ea21be115"},
		{2, "5656565656565656565656565656565656565656565656565656565656565656", "a4efa926610b8bd1c8330c918b7a5e9bf374e53435ef8b7ec186abf62e1b1f65aeaaeb365677ac1d1172a1f5b44b4e6d022c252c58486c0a759fbdc7de15a756acc4d343064035667a594b4c2a6f0b0b421975977f297dba63ee2f63ffe47bb6"},
		{2, "abababababababababababababababababababababababababababababababab", "ae82747ddeefe4fd64cf9cedb9b04ae3e8a43420cd255e3c7cd06a8d88b7c7f8638543719981c5d16fa3527c468c25f0026704a6951bde891360c7e8d12ddee0559004ccdbe6046b55bae1b257ee97f7cdb955773d7cf29adf3ccbb9975e4eb9"},
	}
	sks := make([]*SecretKey, len(keys))
	pks := make([]PublicKey, len(keys))
	for i, k := range keys {
		b, _ := hex.DecodeString(k.sk)
		sk, err := SecretKeyFromBytes(b)
		if err != nil {
			t.Fatal(err)
		}
		sks[i] = sk
		if got := sk.PublicKey().String(); got != k.pk {
			t.Errorf("key %d: public key %s, want %s", i, got, k.pk)
		}
		pkb, _ := hex.DecodeString(k.pk)
		if pks[i], err = PublicKeyFromBytes(pkb); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range sigs {
		msg, _ := hex.DecodeString(c.msg)
		if got := Sign(sks[c.key], msg).String(); got != c.sig {
			t.Errorf("key %d msg %s…: signature\n got  %s\n want %s", c.key, c.msg[:8], got, c.sig)
		}
		sb, _ := hex.DecodeString(c.sig)
		sig, err := SignatureFromBytes(sb)
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(pks[c.key], msg, sig); err != nil {
			t.Errorf("key %d msg %s…: %v", c.key, c.msg[:8], err)
		}
	}
}
