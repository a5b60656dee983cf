using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace FairNad.Evaluation.Compilation;

/// <summary>
/// The sandbox for candidate code: before anything is emitted, every symbol the code binds to on Roslyn's semantic model
/// must be on an allow-list (TorchSharp's tensor and module APIs, the layer library, math, primitives, collections, LINQ,
/// tuples and a few exceptions); everything else is denied by default. A reference set alone is no sandbox, since
/// System.Private.CoreLib holds file, process, reflection and native-interop APIs that candidate code must never reach.
/// </summary>
public static class CandidateCodeChecker
{
    /// <summary>Diagnostic id of a rejection, so callers and tests can tell it from a compiler error.</summary>
    public const string DiagnosticId = "FNSANDBOX";

    private static readonly HashSet<string> SystemTypes = new(StringComparer.Ordinal)
    {
        "Object", "String", "Boolean", "Char", "Byte", "SByte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64",
        "Single", "Double", "Decimal", "Half", "Void", "Nullable", "Math", "MathF", "Tuple", "ValueTuple", "Array",
        "Func", "Action", "Index", "Range", "IDisposable", "IEquatable", "IComparable", "IFormattable", "StringComparison",
        "StringComparer", "MidpointRounding",
        "Exception", "ArgumentException", "ArgumentNullException", "ArgumentOutOfRangeException", "InvalidOperationException",
        "NotSupportedException", "NotImplementedException", "IndexOutOfRangeException",
    };

    private static readonly HashSet<string> LinqTypes = new(StringComparer.Ordinal) { "Enumerable", "IOrderedEnumerable", "IGrouping", "ILookup" };

    // TorchSharp namespaces and nested classes that read or write files, load native code or expose raw handles.
    private static readonly HashSet<string> DeniedTorchSharpParts = new(StringComparer.Ordinal)
    {
        "PInvoke", "NativeMethods", "torchvision", "jit", "hub", "io", "datasets",
    };

    // Denied namespaces (longest prefix first) and the reason a rejection names.
    private static readonly (string Prefix, string Reason)[] Reasons =
    [
        ("System.IO", "file system"),
        ("System.Net", "networking"),
        ("System.Diagnostics", "processes and diagnostics"),
        ("System.Reflection", "reflection"),
        ("System.Runtime.InteropServices", "native interop"),
        ("System.Runtime.Loader", "assembly loading"),
        ("System.Runtime.CompilerServices", "compiler services"),
        ("System.Threading", "threads and tasks"),
        ("System.Security", "security"),
    ];

    /// <summary>Every rejection in the compilation, one per symbol and line, sorted by file and position.</summary>
    public static IReadOnlyList<CompileDiagnostic> Check(CSharpCompilation compilation)
    {
        var rejections = new List<Rejection>();
        foreach (var tree in compilation.SyntaxTrees)
        {
            var model = compilation.GetSemanticModel(tree);
            foreach (var node in tree.GetRoot().DescendantNodesAndSelf())
            {
                CheckSyntax(node, rejections);
                CheckBinding(node, model, compilation, rejections);
            }
        }

        return Deduplicate(rejections)
            .OrderBy(r => r.Path, StringComparer.Ordinal).ThenBy(r => r.Line).ThenBy(r => r.Column)
            .Select(r => new CompileDiagnostic(r.Path, r.Line, r.Column, "error", DiagnosticId,
                $"line {r.Line}: '{r.What}' is not allowed in candidate code ({r.Reason})"))
            .ToList();
    }

    private static void CheckSyntax(SyntaxNode node, List<Rejection> rejections)
    {
        var reason = node switch
        {
            UnsafeStatementSyntax => ("unsafe", "unsafe code"),
            FixedStatementSyntax => ("fixed", "unsafe code"),
            PointerTypeSyntax => (node.ToString(), "unsafe code"),
            FunctionPointerTypeSyntax => (node.ToString(), "function pointer"),
            StackAllocArrayCreationExpressionSyntax or ImplicitStackAllocArrayCreationExpressionSyntax => ("stackalloc", "unsafe code"),
            TypeOfExpressionSyntax => (node.ToString(), "reflection"),
            MakeRefExpressionSyntax or RefTypeExpressionSyntax or RefValueExpressionSyntax => (node.ToString(), "reflection"),
            ExternAliasDirectiveSyntax => (node.ToString(), "extern alias"),
            DestructorDeclarationSyntax => ("~" + ((DestructorDeclarationSyntax)node).Identifier.Text, "finalizer"),
            _ => default((string What, string Reason)?),
        };
        if (reason is { } r)
        {
            rejections.Add(At(node, r.What, r.Reason, null));
        }

        if (node is MemberDeclarationSyntax or LocalFunctionStatementSyntax)
        {
            var modifiers = node switch
            {
                MemberDeclarationSyntax m => m.Modifiers,
                LocalFunctionStatementSyntax f => f.Modifiers,
                _ => default,
            };
            foreach (var modifier in modifiers)
            {
                if (modifier.IsKind(SyntaxKind.UnsafeKeyword) || modifier.IsKind(SyntaxKind.ExternKeyword))
                {
                    // The modifier's own line, not the declaration's, which starts at its attributes.
                    var line = modifier.GetLocation().GetLineSpan();
                    rejections.Add(new Rejection(line.Path, line.StartLinePosition.Line + 1, line.StartLinePosition.Character + 1,
                        $"{modifier.Text} {DeclaredName(node)}", modifier.IsKind(SyntaxKind.UnsafeKeyword) ? "unsafe code" : "native code", null));
                }
            }

            CheckStaticState(node, modifiers, rejections);
        }
    }

    // Static mutable state would leak between candidates compiled into one process and break reproducibility.
    private static void CheckStaticState(SyntaxNode node, SyntaxTokenList modifiers, List<Rejection> rejections)
    {
        if (!modifiers.Any(SyntaxKind.StaticKeyword))
        {
            return;
        }

        switch (node)
        {
            case FieldDeclarationSyntax field when !modifiers.Any(SyntaxKind.ReadOnlyKeyword) && !modifiers.Any(SyntaxKind.ConstKeyword):
                rejections.Add(At(node, $"static {string.Join(", ", field.Declaration.Variables.Select(v => v.Identifier.Text))}", "static mutable state"));
                break;
            case PropertyDeclarationSyntax property when property.AccessorList?.Accessors.Any(a => !a.IsKind(SyntaxKind.GetAccessorDeclaration)) == true:
                rejections.Add(At(node, $"static {property.Identifier.Text}", "static mutable state"));
                break;
            case EventFieldDeclarationSyntax or EventDeclarationSyntax:
                rejections.Add(At(node, $"static {DeclaredName(node)}", "static mutable state"));
                break;
        }
    }

    private static string DeclaredName(SyntaxNode node) => node switch
    {
        MethodDeclarationSyntax m => m.Identifier.Text,
        LocalFunctionStatementSyntax f => f.Identifier.Text,
        BaseTypeDeclarationSyntax t => t.Identifier.Text,
        PropertyDeclarationSyntax p => p.Identifier.Text,
        BaseFieldDeclarationSyntax f => string.Join(", ", f.Declaration.Variables.Select(v => v.Identifier.Text)),
        EventDeclarationSyntax e => e.Identifier.Text,
        ConstructorDeclarationSyntax c => c.Identifier.Text,
        _ => node.Kind().ToString(),
    };

    private static void CheckBinding(SyntaxNode node, SemanticModel model, CSharpCompilation compilation, List<Rejection> rejections)
    {
        if (node is not (ExpressionSyntax or ConstructorInitializerSyntax or AttributeSyntax or PrimaryConstructorBaseTypeSyntax)
            || node is IdentifierNameSyntax { IsVar: true })
        {
            return;
        }

        var info = model.GetSymbolInfo(node);
        var symbols = info.Symbol is { } bound ? [bound] : info.CandidateSymbols;
        if (symbols.IsEmpty)
        {
            CheckUnresolvedName(node, model, rejections);
            return;
        }

        foreach (var symbol in symbols)
        {
            if (Deny(symbol, compilation) is { } reason)
            {
                rejections.Add(At(node, Display(symbol), reason, symbol));
            }
        }
    }

    // A name the compiler cannot resolve is already an error, but when it spells a denied namespace (an unreferenced
    // System.Net.Http.HttpClient, say) the rejection still names it, so an LLM learns why rather than what is missing.
    private static void CheckUnresolvedName(SyntaxNode node, SemanticModel model, List<Rejection> rejections)
    {
        if (node is not (QualifiedNameSyntax or MemberAccessExpressionSyntax)
            || node.Parent is QualifiedNameSyntax q && q.Left == node
            || node.Parent is MemberAccessExpressionSyntax m && m.Expression == node
            || model.GetTypeInfo(node).Type is { TypeKind: not TypeKind.Error })
        {
            return;
        }

        var text = node.ToString().Replace("global::", string.Empty, StringComparison.Ordinal);
        if (ReasonFor(text) is { } reason)
        {
            rejections.Add(At(node, text, reason + "; not referenced", null));
        }
    }

    /// <summary>Why a symbol is denied, or null when candidate code may use it.</summary>
    private static string? Deny(ISymbol symbol, CSharpCompilation compilation)
    {
        switch (symbol)
        {
            case INamespaceSymbol or ILocalSymbol or IParameterSymbol or ILabelSymbol or IRangeVariableSymbol or IDiscardSymbol or ITypeParameterSymbol:
                return null;
            case IAliasSymbol alias:
                return Deny(alias.Target, compilation);
            case IArrayTypeSymbol array:
                return Deny(array.ElementType, compilation);
            case IPointerTypeSymbol:
                return "unsafe code";
            case IFunctionPointerTypeSymbol:
                return "function pointer";
            case ITypeSymbol { TypeKind: TypeKind.Dynamic }:
                return "dynamic";
            case INamedTypeSymbol type:
                return DenyType(type, compilation);
            case IMethodSymbol { MethodKind: MethodKind.BuiltinOperator }:
                return null;
            case IMethodSymbol method:
                return DenyMember(method.ReducedFrom ?? method, compilation)
                    ?? method.TypeArguments.Select(t => Deny(t, compilation)).FirstOrDefault(r => r is not null);
            case IPropertySymbol or IFieldSymbol or IEventSymbol:
                return DenyMember(symbol, compilation);
            default:
                return "not on the allow-list";
        }
    }

    private static string? DenyMember(ISymbol member, CSharpCompilation compilation)
    {
        if (member.ContainingType is not { } owner)
        {
            return "not on the allow-list";
        }

        if (DenyType(owner, compilation) is { } reason)
        {
            return reason;
        }

        if (SymbolEqualityComparer.Default.Equals(owner.ContainingAssembly, compilation.Assembly))
        {
            return null;
        }

        if (member.Name == "GetType" && owner.SpecialType == SpecialType.System_Object)
        {
            return "reflection";
        }

        var torch = Namespace(owner).StartsWith("TorchSharp", StringComparison.Ordinal);
        var name = member.Name.ToLowerInvariant();
        if (torch && (name.StartsWith("save", StringComparison.Ordinal) || name.StartsWith("load", StringComparison.Ordinal) || name.Contains("file", StringComparison.Ordinal))
            && name != "load_state_dict")
        {
            return "file system";
        }

        // Raw handles let code reach native memory without a single unsafe keyword (Tensor.Handle, IntPtr constructors).
        var signature = member switch
        {
            IMethodSymbol m => m.Parameters.Select(p => p.Type).Append(m.ReturnType),
            IPropertySymbol p => p.Parameters.Select(x => x.Type).Append(p.Type),
            IFieldSymbol f => [f.Type],
            _ => [],
        };
        var types = signature.ToList();
        if (types.Any(t => t.SpecialType is SpecialType.System_IntPtr or SpecialType.System_UIntPtr || t.TypeKind is TypeKind.Pointer or TypeKind.FunctionPointer))
        {
            return "native handles";
        }

        // An allowed type's member that takes or returns a stream, a reflection object or an interop type is a way in
        // that a denied type name never appears for (an allowed method writing to a Stream it was handed, say).
        return types.OfType<INamedTypeSymbol>().Select(t => ReasonFor(Namespace(t))).FirstOrDefault(r => r is not null);
    }

    private static string? DenyType(INamedTypeSymbol type, CSharpCompilation compilation)
    {
        if (SymbolEqualityComparer.Default.Equals(type.ContainingAssembly, compilation.Assembly))
        {
            return null;
        }

        var definition = type.OriginalDefinition;
        if (!AllowedDefinition(definition))
        {
            var full = definition.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat).Replace("global::", string.Empty, StringComparison.Ordinal);
            return ReasonFor(full) ?? "not on the allow-list";
        }

        return type.TypeArguments.Select(t => Deny(t, compilation)).FirstOrDefault(r => r is not null);
    }

    private static bool AllowedDefinition(INamedTypeSymbol type)
    {
        var ns = Namespace(type);
        var outermost = type;
        var nesting = new List<string>();
        while (outermost.ContainingType is { } container)
        {
            nesting.Add(outermost.Name);
            outermost = container;
        }

        nesting.Add(outermost.Name);
        if (ns == "TorchSharp" || ns.StartsWith("TorchSharp.", StringComparison.Ordinal))
        {
            return !ns.Split('.').Concat(nesting).Any(DeniedTorchSharpParts.Contains);
        }

        return ns switch
        {
            "FairNad.Evaluation.Modules" => true,
            "System" => type.ContainingType is null && SystemTypes.Contains(type.Name),
            "System.Collections" or "System.Collections.Generic" => true,
            "System.Linq" => LinqTypes.Contains(outermost.Name),
            _ => false,
        };
    }

    private static string Namespace(INamedTypeSymbol type) =>
        type.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() : string.Empty;

    private static string? ReasonFor(string fullName)
    {
        foreach (var (prefix, reason) in Reasons)
        {
            if (fullName == prefix || fullName.StartsWith(prefix + ".", StringComparison.Ordinal))
            {
                return reason;
            }
        }

        // Unresolved names arrive with their member (System.Console.WriteLine), so the type is matched as a prefix too.
        var type = fullName.Split('.') is [var first, var second, ..] ? first + "." + second : fullName;
        return type switch
        {
            "System.Type" or "System.Activator" => "reflection",
            "System.Environment" or "System.AppDomain" or "System.GC" or "System.AppContext" => "runtime control",
            "System.Console" => "console I/O",
            "System.IntPtr" or "System.UIntPtr" => "native handles",
            _ => null,
        };
    }

    private static string Display(ISymbol symbol) =>
        symbol.ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat.WithMemberOptions(
            SymbolDisplayMemberOptions.IncludeContainingType | SymbolDisplayMemberOptions.IncludeParameters));

    private static Rejection At(SyntaxNode node, string what, string reason, ISymbol? symbol = null)
    {
        var span = node.GetLocation().GetLineSpan();
        return new Rejection(span.Path, span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1, what, reason, symbol);
    }

    // A call binds its method, its receiver's type and the member access again; one line names each symbol once, and a
    // denied type is not named again beside a denied member of it on the same line.
    private static IEnumerable<Rejection> Deduplicate(List<Rejection> rejections) =>
        rejections
            .GroupBy(r => (r.Path, r.Line, r.What, r.Reason))
            .Select(g => g.OrderBy(r => r.Column).First())
            .Where(r => r.Symbol is not INamedTypeSymbol type || !rejections.Any(o =>
                o.Path == r.Path && o.Line == r.Line && o.Symbol is not null and not INamedTypeSymbol
                && SymbolEqualityComparer.Default.Equals(o.Symbol.ContainingType?.OriginalDefinition, type.OriginalDefinition)));

    private sealed record Rejection(string Path, int Line, int Column, string What, string Reason, ISymbol? Symbol);
}
