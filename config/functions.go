package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// maxFormatWidth bounds the width and precision in format() verbs, so that a
// configuration cannot make the loader allocate gigabytes ("%999999999d").
const maxFormatWidth = 4096

// FunctionNames lists the functions available in expressions, for docs and
// for `trellis config` help.
func FunctionNames() []string {
	names := make([]string, 0, 32)
	for name := range functions(nil) {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// functions is the function table for expressions. Only total, cheap and
// side-effect-free functions are offered: nothing reads files, and nothing
// can build a value much larger than its inputs.
func functions(environ func(string) (string, bool)) map[string]function.Function {
	return map[string]function.Function{
		"env":       envFunc(environ),
		"upper":     stdlib.UpperFunc,
		"lower":     stdlib.LowerFunc,
		"format":    boundedFormat,
		"concat":    stdlib.ConcatFunc,
		"join":      stdlib.JoinFunc,
		"split":     stdlib.SplitFunc,
		"trimspace": stdlib.TrimSpaceFunc,
		"replace":   stdlib.ReplaceFunc,
		"length":    stdlib.LengthFunc,
		"coalesce":  stdlib.CoalesceFunc,
		"contains":  stdlib.ContainsFunc,
		"lookup":    stdlib.LookupFunc,
		"merge":     stdlib.MergeFunc,
		"min":       stdlib.MinFunc,
		"max":       stdlib.MaxFunc,
		"abs":       stdlib.AbsoluteFunc,
		"tostring":  stdlib.MakeToFunc(cty.String),
		"tonumber":  stdlib.MakeToFunc(cty.Number),
		"tobool":    stdlib.MakeToFunc(cty.Bool),
		"tolist":    stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":     stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	}
}

// envFunc is env(name) or env(name, default): the value of an environment
// variable of the process loading the configuration. An unset variable without
// a default is an error pointing at the name argument; a variable set to the
// empty string is returned as "".
func envFunc(environ func(string) (string, bool)) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable, or the default when it is unset.",
		Params: []function.Parameter{{
			Name:        "name",
			Type:        cty.String,
			Description: "Name of the environment variable.",
		}},
		VarParam: &function.Parameter{
			Name:        "default",
			Type:        cty.String,
			Description: "Value returned when the variable is unset.",
		},
		Type: function.StaticReturnType(cty.String),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
			return b.NotNull()
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if len(args) > 2 {
				return cty.NilVal, function.NewArgErrorf(2, "env takes a name and at most one default value, got %d arguments", len(args))
			}
			for i, a := range args {
				if a.IsNull() {
					return cty.NilVal, function.NewArgErrorf(i, "must not be null")
				}
			}
			name := args[0].AsString()
			if name == "" || strings.ContainsAny(name, "=\x00") {
				return cty.NilVal, function.NewArgErrorf(0, "%q is not a valid environment variable name", name)
			}
			if environ != nil {
				if v, ok := environ(name); ok {
					return cty.StringVal(v), nil
				}
			}
			if len(args) == 2 {
				return args[1], nil
			}
			return cty.NilVal, function.NewArgErrorf(0, "environment variable %s is not set; set it, or give a default as the second argument: env(%q, \"...\")", name, name)
		},
	})
}

// boundedFormat is stdlib's format with a cap on widths and precisions.
var boundedFormat = function.New(&function.Spec{
	Description: stdlib.FormatFunc.Description(),
	Params: []function.Parameter{{
		Name: "format",
		Type: cty.String,
	}},
	VarParam: &function.Parameter{
		Name:      "args",
		Type:      cty.DynamicPseudoType,
		AllowNull: true,
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if !args[0].IsNull() {
			if err := checkFormatWidths(args[0].AsString()); err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
		}
		return stdlib.FormatFunc.Call(args)
	},
})

// checkFormatWidths rejects a format verb whose width or precision exceeds
// maxFormatWidth.
func checkFormatWidths(f string) error {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			continue
		}
		n := 0
		for i++; i < len(f); i++ {
			c := f[i]
			switch {
			case c >= '0' && c <= '9':
				n = n*10 + int(c-'0')
				if n > maxFormatWidth {
					return fmt.Errorf("width or precision above %d in format verb", maxFormatWidth)
				}
				continue
			case c == '.' || c == '-' || c == '+' || c == '#' || c == ' ' || c == '[' || c == ']' || c == '*':
				n = 0
				continue
			}
			break
		}
	}
	return nil
}
