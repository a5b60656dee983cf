using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FairNad.Architecture;
using FairNad.Evaluation.Compilation;
using FairNad.Evaluation.Isolation;
using FairNad.Knowledge;
using FairNad.Search;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace FairNad.Experiments;

/// <summary>One scripted operator source as the benchmark measured it.</summary>
/// <param name="AnalysisMs">Median time to bind the source (Roslyn's semantic model) and run the sandbox's allow-list check on it.</param>
/// <param name="CompileMs">Median time of the whole in-process compile: parse, sandbox analysis and emit.</param>
/// <param name="Compiled">"ok", or the first diagnostic id that stopped it (FNSANDBOX for a sandbox rejection).</param>
/// <param name="VerifyMs">Wall time of the verification worker (`fairnad operators verify`) on a child that uses it.</param>
/// <param name="Verdict">"passed", or the worker's first problem, shortened.</param>
public sealed record OperatorTiming(string Name, string Kind, double AnalysisMs, double CompileMs, string Compiled, double VerifyMs, string Verdict);

/// <summary>A scripted mutation: its answers in order, and after how many repairs one was accepted (null: none within the attempts).</summary>
public sealed record ScriptedMutation(IReadOnlyList<string> Answers, int? Repairs, IReadOnlyList<string> Problems);

public sealed record OperatorBenchmarkReport(IReadOnlyList<OperatorTiming> Operators, IReadOnlyList<ScriptedMutation> Mutations, int MaxAttempts, bool NetworkNamespace);

/// <summary>
/// `fairnad bench operators`: what checking LLM-written operators costs and catches, over a scripted set of answers: the
/// scripted designer's operators (<see cref="ScriptedOperators"/>) and faulty variants of the kinds an LLM writes (a
/// compile error, a sandbox rejection, a wrong output shape, non-finite outputs, an unused parameter). Per source, the
/// in-process compile (sandbox analysis on the semantic model, then emit) and the verification worker's wall time; and,
/// for scripted mutations whose answers go through <see cref="LlmSpecMutator.Check"/> with verification in workers
/// exactly as a search checks them, the share valid after 0..k repairs.
/// </summary>
public static class OperatorBenchmark
{
    private const string Usings = "using System;\nusing TorchSharp;\nusing static TorchSharp.torch;\n\n";

    /// <summary>Faulty variants: each is rejected by a different check.</summary>
    public static IReadOnlyList<(string Name, string Kind, string Source)> Faulty { get; } =
    [
        ("Typo", "compile error", Usings + """
            public sealed class Typo : nn.Module<Tensor, Tensor>
            {
                private readonly nn.Module<Tensor, Tensor> conv;

                public Typo(string name, long inChannels, long outChannels, long stride)
                    : base(name)
                {
                    conv = nn.Conv2d(inChannels, outChannels, 1, stride: stride);
                    RegisterComponents();
                }

                public override Tensor forward(Tensor input) => conv.forward(inputs);
            }

            """),
        ("Vandal", "sandbox rejection", Usings + """
            public sealed class Vandal : nn.Module<Tensor, Tensor>
            {
                private readonly nn.Module<Tensor, Tensor> conv;

                public Vandal(string name, long inChannels, long outChannels, long stride)
                    : base(name)
                {
                    conv = nn.Conv2d(inChannels, outChannels, 1, stride: stride);
                    RegisterComponents();
                }

                public override Tensor forward(Tensor input) { System.IO.File.Delete("/tmp/x"); return conv.forward(input); }
            }

            """),
        ("Doubler", "wrong shape", Usings + """
            public sealed class Doubler : nn.Module<Tensor, Tensor>
            {
                private readonly nn.Module<Tensor, Tensor> conv;

                public Doubler(string name, long inChannels, long outChannels, long stride)
                    : base(name)
                {
                    conv = nn.Conv2d(inChannels, 2 * outChannels, 1, stride: stride);
                    RegisterComponents();
                }

                public override Tensor forward(Tensor input) => conv.forward(input);
            }

            """),
        ("Blowup", "non-finite", Usings + """
            public sealed class Blowup : nn.Module<Tensor, Tensor>
            {
                private readonly nn.Module<Tensor, Tensor> conv;

                public Blowup(string name, long inChannels, long outChannels, long stride)
                    : base(name)
                {
                    conv = nn.Conv2d(inChannels, outChannels, 1, stride: stride);
                    RegisterComponents();
                }

                public override Tensor forward(Tensor input) => conv.forward(input) / 0.0;
            }

            """),
        ("Forgetful", "unused parameter", Usings + """
            public sealed class Forgetful : nn.Module<Tensor, Tensor>
            {
                private readonly nn.Module<Tensor, Tensor> used;
                private readonly nn.Module<Tensor, Tensor> unused;

                public Forgetful(string name, long inChannels, long outChannels, long stride)
                    : base(name)
                {
                    used = nn.Conv2d(inChannels, outChannels, 1, stride: stride);
                    unused = nn.Conv2d(inChannels, outChannels, 3, padding: 1);
                    RegisterComponents();
                }

                public override Tensor forward(Tensor input) => used.forward(input);
            }

            """),
    ];

    /// <summary>Every scripted source: the designer's operators (valid), then the faulty variants.</summary>
    public static IReadOnlyList<(string Name, string Kind, string Source)> Sources =>
        [.. ScriptedOperators.All.Select(o => (o.Name, "valid", o.Source)), .. Faulty];

    /// <summary>
    /// The scripted mutations, as names of <see cref="Sources"/> answered in order: each valid operator alone; each fault
    /// followed by a valid operator; two faults then a valid one; and three faults (no valid answer within three attempts).
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<string>> Scripts
    {
        get
        {
            var valid = ScriptedOperators.All.Select(o => o.Name).ToList();
            var faults = Faulty.Select(f => f.Name).ToList();
            return
            [
                .. valid.Select(v => (IReadOnlyList<string>)[v]),
                .. faults.Select((f, i) => (IReadOnlyList<string>)[f, valid[i % valid.Count]]),
                [faults[0], faults[1], valid[0]],
                [faults[2], faults[3], faults[4]],
            ];
        }
    }

    public static OperatorBenchmarkReport Run(WorkerCommand worker, int repeats, Action<string> log)
    {
        const int MaxAttempts = 3;
        var sources = Sources;
        var scratch = Directory.CreateTempSubdirectory("fairnad-bench-operators-").FullName;
        try
        {
            var tree = AttributeTree.Default();
            var input = new InputSpec(1, 28, 10);
            var space = new ArchitectureSpace(tree, ArchitectureSpace.ScaledReferences(["resnet"], input, 20_000), 20_000);
            var parent = space.Seeds[0];
            var (category, attribute) = tree.Attributes.Select(a => (a.Category, a.Attribute)).First(a => a.Attribute.Realisations.Count == 0);
            var request = new LlmMutationRequest(parent, attribute, category, string.Empty, space);
            var verification = new OperatorVerification(worker, Path.Combine(scratch, "workers"), new WorkerLimits(TimeSpan.FromSeconds(SearchSession.VerificationTimeoutSeconds), 4L << 30));

            // Verification is deterministic: each distinct child is verified once in a worker, timed, and its verdict reused.
            var verified = new Dictionary<string, (string? Problem, double Ms)>(StringComparer.Ordinal);
            var bySource = new Dictionary<string, (string? Problem, double Ms)>(StringComparer.Ordinal);
            string? Verify(ArchitectureSpec spec, IReadOnlyDictionary<string, string> used)
            {
                if (!verified.TryGetValue(spec.Id, out var entry))
                {
                    var name = sources.First(s => used.Values.Contains(s.Source)).Name;
                    log($"verifying {name} in a worker ...");
                    var watch = Stopwatch.StartNew();
                    var report = verification.Verify(spec, used);
                    entry = (report.Passed ? null : string.Join("\n", report.Problems), watch.Elapsed.TotalMilliseconds);
                    verified[spec.Id] = entry;
                    foreach (var reference in used.Keys)
                    {
                        bySource[reference] = entry;
                    }
                }

                return entry.Problem;
            }

            var writing = new OperatorWriting(new OperatorStore(Path.Combine(scratch, "operators")), Verify);
            var mutations = new List<ScriptedMutation>();
            foreach (var script in Scripts)
            {
                var problems = new List<string>();
                int? repairs = null;
                foreach (var (name, attempt) in script.Take(MaxAttempts).Select((n, i) => (n, i)))
                {
                    using var answer = JsonDocument.Parse(Answer(parent, sources.First(s => s.Name == name).Source));
                    var (_, problem, _) = LlmSpecMutator.Check(answer.RootElement, request, null, writing);
                    if (problem is null)
                    {
                        repairs = attempt;
                        break;
                    }

                    problems.Add(problem);
                }

                mutations.Add(new ScriptedMutation(script, repairs, problems));
            }

            // In-process compile of each source: a warm-up first (Roslyn and the references load once), then medians.
            CandidateCompiler.Emit("bench_warmup", [new SourceFile("warmup.cs", ScriptedOperators.Ghost.Source)]);
            var references = CandidateCompiler.ReferencePaths.Select(p => (MetadataReference)MetadataReference.CreateFromFile(p)).ToList();
            var timings = new List<OperatorTiming>();
            foreach (var (name, kind, source) in sources)
            {
                var analysis = new List<double>();
                var compile = new List<double>();
                var outcome = "ok";
                for (var r = 0; r < repeats; r++)
                {
                    var watch = Stopwatch.StartNew();
                    var compilation = CSharpCompilation.Create($"bench_{name}_{r}", [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest), $"operators/{name}.cs")], references,
                        new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release, nullableContextOptions: NullableContextOptions.Enable, deterministic: true, concurrentBuild: false));
                    CandidateCodeChecker.Check(compilation);
                    analysis.Add(watch.Elapsed.TotalMilliseconds);
                    watch.Restart();
                    var (image, diagnostics) = CandidateCompiler.Emit($"bench_{name}_{r}", [new SourceFile($"operators/{name}.cs", source)]);
                    compile.Add(watch.Elapsed.TotalMilliseconds);
                    outcome = image is not null ? "ok" : diagnostics.First(d => d.Severity == "error").Id;
                }

                var (problem, ms) = bySource.TryGetValue(OperatorSources.Hash(source), out var entry) ? entry : ("not verified", 0);
                timings.Add(new OperatorTiming(name, kind, Median(analysis), Median(compile), outcome, ms, problem is null ? "passed" : Shorten(problem)));
            }

            return new OperatorBenchmarkReport(timings, mutations, MaxAttempts, OperatorVerification.HasNetworkNamespace);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>The scripted answer: <paramref name="source"/> as a residual branch on the parent block's output.</summary>
    public static string Answer(ArchitectureSpec parent, string source)
    {
        var (output, n) = (parent.Block.Output, parent.Block.Nodes.Count);
        var child = parent with
        {
            Block = new BlockSpec(
                [.. parent.Block.Nodes, new NodeSpec($"written{n}", OperatorSources.OperatorName, output).With("source", LlmSpecMutator.AnswerOperatorPrefix + "0]"), new NodeSpec($"written_sum{n}", "add", $"written{n}", output)],
                $"written_sum{n}"),
        };
        using var architecture = JsonDocument.Parse(SpecJson.Write(child));
        return JsonSerializer.Serialize(new { summary = "scripted: the operator as a residual branch", architecture = architecture.RootElement, operators = new[] { new { source } } });
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    /// <summary>One table cell: whitespace collapsed, hashes cut to 12 digits, the verification prefix dropped, at most 160 characters.</summary>
    private static string Shorten(string problem)
    {
        var line = System.Text.RegularExpressions.Regex.Replace(problem, @"\s+", " ").Replace('|', '/').Replace("structural verification failed: ", string.Empty, StringComparison.Ordinal);
        line = System.Text.RegularExpressions.Regex.Replace(line, "(sha256:|operators/)([0-9a-f]{12})[0-9a-f]{52}", "$1$2");
        return line.Length <= 160 ? line : line[..157] + "...";
    }

    /// <summary>The report as Markdown: the per-source table and the repair distribution.</summary>
    public static string Table(OperatorBenchmarkReport report)
    {
        var text = new StringBuilder();
        var c = CultureInfo.InvariantCulture;
        text.AppendLine(c, $"Verification workers {(report.NetworkNamespace ? "in a network namespace of their own" : "without a network namespace (unshare not permitted here)")}; analysis and compile are medians in this process after a warm-up.");
        text.AppendLine();
        text.AppendLine("| operator | kind | sandbox analysis (ms) | compile + analysis (ms) | in-process compile | verification worker (s) | verdict |");
        text.AppendLine("|---|---|---:|---:|---|---:|---|");
        foreach (var o in report.Operators)
        {
            text.AppendLine(c, $"| {o.Name} | {o.Kind} | {o.AnalysisMs:F1} | {o.CompileMs:F1} | {o.Compiled} | {o.VerifyMs / 1000:F2} | {o.Verdict} |");
        }

        text.AppendLine();
        var n = report.Mutations.Count;
        text.AppendLine(c, $"Scripted mutations: {n}, at most {report.MaxAttempts} answers each (k = {report.MaxAttempts - 1} repairs), every answer checked by LlmSpecMutator.Check with verification in a worker.");
        text.AppendLine();
        text.AppendLine("| valid after | mutations | share |");
        text.AppendLine("|---|---:|---:|");
        for (var k = 0; k < report.MaxAttempts; k++)
        {
            var count = report.Mutations.Count(m => m.Repairs == k);
            text.AppendLine(c, $"| {k} repair{(k == 1 ? string.Empty : "s")} | {count} | {100.0 * count / n:F0}% |");
        }

        var never = report.Mutations.Count(m => m.Repairs is null);
        text.AppendLine(c, $"| not within {report.MaxAttempts - 1} | {never} | {100.0 * never / n:F0}% |");
        text.AppendLine();
        text.AppendLine("| answers | valid after | problems fed back |");
        text.AppendLine("|---|---|---|");
        foreach (var m in report.Mutations)
        {
            text.AppendLine(c, $"| {string.Join(" -> ", m.Answers)} | {(m.Repairs is { } r ? r.ToString(c) : "-")} | {string.Join("; ", m.Problems.Select(Shorten))} |");
        }

        return text.ToString();
    }
}
