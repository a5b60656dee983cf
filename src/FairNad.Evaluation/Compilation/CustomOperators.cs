using System.Collections.Concurrent;
using System.Reflection;
using FairNad.Architecture;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using static TorchSharp.torch;

namespace FairNad.Evaluation.Compilation;

/// <summary>An LLM-written operator that compiled but breaks the contract (no module class, wrong constructor, ...).</summary>
public sealed class OperatorContractException(string message) : Exception(message);

/// <summary>
/// The LLM-written operators this process has compiled, by reference (<c>sha256:...</c>). A source is compiled through
/// the sandbox (<see cref="CandidateCompiler"/>: every symbol it binds checked against the allow-list) and must hold
/// exactly one public class deriving from <c>nn.Module&lt;Tensor, Tensor&gt;</c> with a public constructor
/// <c>(string name, long inChannels, long outChannels, long stride)</c>. Only worker processes load operators
/// (`fairnad evaluate`, `fairnad worker`, `fairnad operators verify`): compiled LLM code never runs in the search's own
/// process. Content-addressed, so what is loaded never changes meaning; the table only grows.
/// </summary>
public static class CustomOperators
{
    /// <summary>The contract, as the prompt and the docs state it.</summary>
    public const string Contract =
        "exactly one public class deriving from nn.Module<Tensor, Tensor>, with a public constructor (string name, long inChannels, long outChannels, long stride) " +
        "that calls base(name) and ends with RegisterComponents(), and forward(Tensor input) mapping [N, inChannels, H, W] to " +
        "[N, outChannels, ceil(H / stride), ceil(W / stride)]";

    private static readonly ConcurrentDictionary<string, (CompiledAssembly Assembly, ConstructorInfo Constructor)> Loaded = new(StringComparer.Ordinal);

    /// <summary>Compiles <paramref name="source"/> (once per hash) and returns its reference.</summary>
    /// <exception cref="CompilationFailedException">a compiler error or a sandbox rejection (FNSANDBOX), with line and symbol.</exception>
    /// <exception cref="OperatorContractException">the code compiles but does not follow <see cref="Contract"/>.</exception>
    public static string Load(string source)
    {
        var reference = OperatorSources.Hash(source);
        if (Loaded.ContainsKey(reference))
        {
            return reference;
        }

        var file = "operators/" + OperatorSources.FileName(reference);
        var assembly = CandidateCompiler.Compile("operator_" + reference[OperatorSources.Prefix.Length..][..16], [new SourceFile(file, Hooked(source))]);
        try
        {
            var modules = assembly.Assembly.GetTypes()
                .Where(t => t is { IsClass: true, IsAbstract: false, IsPublic: true } && typeof(nn.Module<Tensor, Tensor>).IsAssignableFrom(t)).ToList();
            if (modules.Count != 1)
            {
                throw new OperatorContractException($"{file}: found {modules.Count} public classes deriving from nn.Module<Tensor, Tensor>; the contract is {Contract}");
            }

            var constructor = modules[0].GetConstructor([typeof(string), typeof(long), typeof(long), typeof(long)])
                ?? throw new OperatorContractException($"{file}: class {modules[0].Name} has no public constructor (string name, long inChannels, long outChannels, long stride); the contract is {Contract}");
            Loaded.TryAdd(reference, (assembly, constructor));
            return reference;
        }
        catch
        {
            assembly.Dispose();
            throw;
        }
    }

    /// <summary>Loads every operator <paramref name="spec"/> uses from <paramref name="store"/>.</summary>
    public static void LoadFor(ArchitectureSpec spec, OperatorStore store)
    {
        foreach (var reference in OperatorSources.References(spec))
        {
            Load(store.Get(reference));
        }
    }

    /// <summary>
    /// The source as compiled: every call <c>x.forward(...)</c> on another object becomes <c>x.call(...)</c>, which runs
    /// the same forward but also the module's hooks (TorchSharp's <c>forward</c> skips them), so that
    /// <see cref="MacCounter"/> sees every layer the operator runs. Only the name token changes, so lines stay as written
    /// and diagnostics point at the source as the LLM wrote it; the reference is the hash of that source.
    /// </summary>
    public static string Hooked(string source)
    {
        var root = CSharpSyntaxTree.ParseText(source).GetRoot();
        var names = root.DescendantNodes().OfType<InvocationExpressionSyntax>()
            .Select(i => i.Expression).OfType<MemberAccessExpressionSyntax>()
            .Where(m => m.Name is IdentifierNameSyntax { Identifier.Text: "forward" } && m.Expression is not (ThisExpressionSyntax or BaseExpressionSyntax))
            .Select(m => m.Name).ToList();
        return names.Count == 0
            ? source
            : root.ReplaceNodes(names, (name, _) => SyntaxFactory.IdentifierName(SyntaxFactory.Identifier(name.GetLeadingTrivia(), "call", name.GetTrailingTrivia()))).ToFullString();
    }

    public static bool IsLoaded(string reference) => Loaded.ContainsKey(reference);

    /// <summary>A new instance of a loaded operator; an exception its constructor throws comes out unwrapped.</summary>
    public static nn.Module<Tensor, Tensor> Create(string reference, string name, long inChannels, long outChannels, long stride)
    {
        if (!Loaded.TryGetValue(reference, out var entry))
        {
            throw new InvalidOperationException(
                $"operator {reference} is not loaded in this process; LLM-written operators run only in worker processes that load them from the run's operators/ folder");
        }

        try
        {
            return (nn.Module<Tensor, Tensor>)entry.Constructor.Invoke([name, inChannels, outChannels, stride]);
        }
        catch (TargetInvocationException e) when (e.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e.InnerException).Throw();
            throw;
        }
    }
}
