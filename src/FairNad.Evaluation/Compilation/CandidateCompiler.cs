using System.Reflection;
using System.Runtime.Loader;
using FairNad.Architecture.Models;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using TorchSharp;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Compilation;

/// <summary>A C# source file to compile; <see cref="Path"/> only names it in diagnostics.</summary>
public sealed record SourceFile(string Path, string Text);

/// <summary>One compiler message, with a 1-based position, ready to show a user or feed back to an LLM for repair.</summary>
public sealed record CompileDiagnostic(string Path, int Line, int Column, string Severity, string Id, string Message)
{
    public override string ToString() => $"{Path}({Line},{Column}): {Severity} {Id}: {Message}";
}

/// <summary>Compilation failed; <see cref="Diagnostics"/> lists every error and warning.</summary>
public sealed class CompilationFailedException(IReadOnlyList<CompileDiagnostic> diagnostics)
    : Exception("compilation failed:\n  " + string.Join("\n  ", diagnostics.Where(d => d.Severity == "error")))
{
    public IReadOnlyList<CompileDiagnostic> Diagnostics { get; } = diagnostics;
}

/// <summary>An assembly compiled from candidate code, loaded into its own collectible context; dispose to unload it.</summary>
public sealed class CompiledAssembly : IDisposable
{
    private readonly AssemblyLoadContext _context;

    internal CompiledAssembly(AssemblyLoadContext context, Assembly assembly, IReadOnlyList<CompileDiagnostic> warnings, byte[] image)
    {
        _context = context;
        Assembly = assembly;
        Warnings = warnings;
        Image = image;
    }

    public Assembly Assembly { get; }

    public IReadOnlyList<CompileDiagnostic> Warnings { get; }

    /// <summary>The emitted assembly bytes (deterministic for the same sources).</summary>
    public byte[] Image { get; }

    /// <summary>Instantiates the generated <c>Network</c> of a candidate; weights come from torch's global generator.</summary>
    public nn.Module<Tensor, Tensor> CreateNetwork(string candidateId)
    {
        var name = TorchSharpCodeWriter.NetworkTypeName(candidateId);
        var type = Assembly.GetType(name) ?? throw new InvalidOperationException($"the compiled code has no type {name}");
        return (nn.Module<Tensor, Tensor>)Activator.CreateInstance(type)!;
    }

    public void Dispose() => _context.Unload();
}

/// <summary>
/// Compiles generated or externally supplied model code with Roslyn against a fixed reference set: the core runtime
/// assemblies listed in <see cref="RuntimeReferences"/>, TorchSharp, and FairNad.Evaluation (the layer library).
/// Before emitting, <see cref="CandidateCodeChecker"/> rejects every symbol that is not on the sandbox's allow-list.
/// </summary>
public static class CandidateCompiler
{
    /// <summary>
    /// The runtime assemblies the allow-list needs. Defence in depth only: System.Private.CoreLib itself holds files,
    /// processes and reflection, so <see cref="CandidateCodeChecker"/> is what keeps candidate code away from them.
    /// </summary>
    public static readonly IReadOnlyList<string> RuntimeReferences =
        ["System.Private.CoreLib", "System.Runtime", "System.Collections", "System.Linq"];

    private static readonly Lazy<IReadOnlyList<MetadataReference>> References = new(LoadReferences);

    private static readonly CSharpParseOptions ParseOptions = new(LanguageVersion.Latest);

    public static IReadOnlyList<string> ReferencePaths => References.Value.Select(r => r.Display ?? string.Empty).ToList();

    /// <summary>Compiles and loads, or throws <see cref="CompilationFailedException"/> with structured diagnostics.</summary>
    public static CompiledAssembly Compile(string assemblyName, IEnumerable<SourceFile> sources)
    {
        var (image, diagnostics) = Emit(assemblyName, sources);
        if (image is null)
        {
            throw new CompilationFailedException(diagnostics);
        }

        var context = new AssemblyLoadContext(assemblyName, isCollectible: true);
        using var stream = new MemoryStream(image);
        var assembly = context.LoadFromStream(stream);
        return new CompiledAssembly(context, assembly, diagnostics, image);
    }

    /// <summary>Compiles without loading: the image (null on errors) and every diagnostic.</summary>
    public static (byte[]? Image, IReadOnlyList<CompileDiagnostic> Diagnostics) Emit(string assemblyName, IEnumerable<SourceFile> sources)
    {
        var trees = sources.Select(s => CSharpSyntaxTree.ParseText(s.Text, ParseOptions, s.Path)).ToList();
        var options = new CSharpCompilationOptions(
            OutputKind.DynamicallyLinkedLibrary,
            optimizationLevel: OptimizationLevel.Release,
            nullableContextOptions: NullableContextOptions.Enable,
            deterministic: true,
            concurrentBuild: false);
        var compilation = CSharpCompilation.Create(assemblyName, trees, References.Value, options);

        // The sandbox check runs on the semantic model before anything is emitted, so rejected code never becomes an
        // assembly that could be loaded; compiler errors come along so one round of repair sees everything.
        var rejections = CandidateCodeChecker.Check(compilation);
        if (rejections.Count > 0)
        {
            var compilerDiagnostics = compilation.GetDiagnostics()
                .Where(d => d.Severity is DiagnosticSeverity.Error or DiagnosticSeverity.Warning)
                .Select(ToDiagnostic);
            return (null, Sort(rejections.Concat(compilerDiagnostics)));
        }

        using var output = new MemoryStream();
        var result = compilation.Emit(output);
        var diagnostics = result.Diagnostics
            .Where(d => d.Severity is DiagnosticSeverity.Error or DiagnosticSeverity.Warning)
            .Select(ToDiagnostic);
        return (result.Success ? output.ToArray() : null, Sort(diagnostics));
    }

    private static List<CompileDiagnostic> Sort(IEnumerable<CompileDiagnostic> diagnostics) =>
        diagnostics
            .OrderBy(d => d.Path, StringComparer.Ordinal).ThenBy(d => d.Line).ThenBy(d => d.Column).ThenBy(d => d.Id, StringComparer.Ordinal)
            .ToList();

    private static CompileDiagnostic ToDiagnostic(Diagnostic d)
    {
        var span = d.Location.GetMappedLineSpan();
        var path = span.IsValid && !string.IsNullOrEmpty(span.Path) ? span.Path : "(compilation)";
        var (line, column) = span.IsValid ? (span.StartLinePosition.Line + 1, span.StartLinePosition.Character + 1) : (0, 0);
        return new CompileDiagnostic(path, line, column, d.Severity == DiagnosticSeverity.Error ? "error" : "warning", d.Id,
            d.GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    private static IReadOnlyList<MetadataReference> LoadReferences()
    {
        var runtimeDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        var paths = RuntimeReferences.Select(name => Path.Combine(runtimeDirectory, name + ".dll")).Where(File.Exists)
            .Append(typeof(torch).Assembly.Location)
            .Append(typeof(Modules.Layers).Assembly.Location);
        return paths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
    }
}
