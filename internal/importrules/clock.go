package importrules

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
)

// WallClock lists the functions of package time that read the wall clock
// or start timers. A consensus plugin uses its sdk.Clock instead (the
// host's in a node, a virtual one in the simulator): one call to these
// and the plugin cannot run on simulated time.
var WallClock = map[string]bool{
	"Now": true, "Since": true, "Until": true, "After": true, "AfterFunc": true,
	"Sleep": true, "Tick": true, "NewTimer": true, "NewTicker": true,
}

// CheckClock parses one Go source file and returns where it calls a
// WallClock function of package time (under whatever name the file
// imports it).
func CheckClock(filename string, src []byte) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filename, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, err
	}
	name := ""
	for _, imp := range f.Imports {
		if imp.Path.Value == `"time"` {
			name = "time"
			if imp.Name != nil {
				name = imp.Name.Name
			}
		}
	}
	if name == "" {
		return nil, nil
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if id, ok := sel.X.(*ast.Ident); ok && id.Name == name && WallClock[sel.Sel.Name] {
			out = append(out, fmt.Sprintf("%s: time.%s", fset.Position(sel.Pos()), sel.Sel.Name))
		}
		return true
	})
	return out, nil
}
