using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using FairNad.Architecture;
using FairNad.Data;
using FairNad.Evaluation.Training;

namespace FairNad.Experiments;

/// <summary>One model the determinism benchmark trains: what it exercises, and its spec.</summary>
public sealed record DeterminismCase(string Name, ArchitectureSpec Spec);

/// <summary>What one replica measured for one case: everything that must be bit-identical across replicas.</summary>
public sealed record DeterminismRecord(
    string Case,
    string CandidateId,
    long Parameters,
    string Status,
    string? Failure,
    IReadOnlyList<double> TrainLoss,
    IReadOnlyList<double> ValidationAccuracy,
    double? TestAccuracy,
    string? WeightsSha256,
    double Seconds);

/// <summary>One replica process: the order it trains the cases in and the native-heap settings it runs under.</summary>
public sealed record DeterminismReplica(int Index, string Order, IReadOnlyDictionary<string, string> Environment)
{
    public string Describe() => $"#{Index} {Order}{(Environment.Count == 0 ? string.Empty : " " + string.Join(" ", Environment.Select(kv => $"{kv.Key}={kv.Value}")))}";
}

/// <summary>The benchmark's knobs.</summary>
/// <param name="Replicas">Separate worker processes that each train every case.</param>
/// <param name="Parallel">Replicas running at once.</param>
/// <param name="Load">CPU burner threads kept busy in this process for the whole run (other load on the machine).</param>
/// <param name="Filter">Only cases whose name contains one of these (all when empty).</param>
/// <param name="Budgets">Parameter budgets the reference architectures are width-scaled to.</param>
public sealed record DeterminismSettings(
    int Replicas,
    int Parallel,
    int Load,
    IReadOnlyList<string> Filter,
    IReadOnlyList<long> Budgets,
    TrainingConfig Config,
    string? DataDirectory = null)
{
    /// <summary>A few optimizer steps per case: 64 images in batches of 16, with augmentation, validation and test.</summary>
    public static TrainingConfig DefaultConfig => new(Epochs: 1, BatchSize: 16, LearningRate: 0.05, TrainSubset: 64, ValidationSubset: 100, LatencyRepeats: 1, Threads: 1, Seed: 0);
}

/// <summary>The outcome: per case, whether every replica agreed bit for bit.</summary>
public sealed record DeterminismReport(
    IReadOnlyList<DeterminismCase> Cases,
    IReadOnlyList<DeterminismReplica> Replicas,
    IReadOnlyList<IReadOnlyDictionary<string, DeterminismRecord>> Records,
    IReadOnlyList<string> ReplicaFailures,
    double Seconds)
{
    /// <summary>The cases on which the replicas disagree (or that some replica did not report), with what differs.</summary>
    public IReadOnlyList<(string Case, string Difference)> Differences()
    {
        var differences = new List<(string, string)>();
        foreach (var c in Cases)
        {
            var records = Records.Select(r => r.GetValueOrDefault(c.Name)).ToList();
            if (records.Any(r => r is null))
            {
                differences.Add((c.Name, $"missing from replica(s) {string.Join(", ", records.Select((r, i) => (r, i)).Where(x => x.r is null).Select(x => $"#{x.i}"))}"));
                continue;
            }

            var first = records[0]!;
            for (var i = 1; i < records.Count; i++)
            {
                if (Difference(first, records[i]!) is { } what)
                {
                    differences.Add((c.Name, $"replica #0 vs #{i}: {what}"));
                }
            }
        }

        return differences;
    }

    private static string? Difference(DeterminismRecord a, DeterminismRecord b)
    {
        static string List(IReadOnlyList<double> x) => string.Join(",", x.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));
        if (a.Status != b.Status || a.Failure != b.Failure)
        {
            return $"status {a.Status} {a.Failure} vs {b.Status} {b.Failure}";
        }

        if (List(a.TrainLoss) != List(b.TrainLoss))
        {
            return $"train loss {List(a.TrainLoss)} vs {List(b.TrainLoss)}";
        }

        if (List(a.ValidationAccuracy) != List(b.ValidationAccuracy))
        {
            return $"validation accuracy {List(a.ValidationAccuracy)} vs {List(b.ValidationAccuracy)}";
        }

        if (a.TestAccuracy != b.TestAccuracy)
        {
            return $"test accuracy {a.TestAccuracy} vs {b.TestAccuracy}";
        }

        return a.WeightsSha256 != b.WeightsSha256 ? $"weights {a.WeightsSha256?[..12]} vs {b.WeightsSha256?[..12]}" : null;
    }
}

/// <summary>
/// `fairnad bench determinism`: every operator, every reference architecture at several widths, the stem and downsampling
/// kinds and NAS-Bench-201 cells, each trained for a few steps in several separate worker processes. The replicas differ
/// in everything that must not matter: the order in which they train the cases (forward, reversed, shuffled, so a case
/// never depends on what the process ran before), and the native heap (glibc's MALLOC_PERTURB_ fills fresh and freed
/// memory with a byte pattern, MALLOC_ARENA_MAX=1 reuses freed memory at once, a high MALLOC_MMAP_THRESHOLD_ serves even
/// large tensors from the reused heap). Loss curves, accuracies and the SHA-256 of the final weights must agree bit for bit.
/// </summary>
public static class DeterminismBenchmark
{
    /// <summary>Fashion-MNIST: its subset ships with the repository, so the benchmark runs anywhere.</summary>
    public const string Dataset = "fashion-mnist";

    public static readonly InputSpec Input = new(1, 28, 10);

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>
    /// The cases at <paramref name="input"/>: one network per operator (and per activation function and convolution
    /// variant), every reference architecture scaled to each budget, a network with every stem and downsampling kind, and
    /// two NAS-Bench-201 cells.
    /// </summary>
    public static IReadOnlyList<DeterminismCase> Cases(InputSpec input, IReadOnlyList<long> budgets)
    {
        var cases = new List<DeterminismCase>();
        foreach (var (name, node) in OperatorNodes())
        {
            cases.Add(new($"op:{name}", OperatorNetwork(name, input, node)));
        }

        foreach (var reference in ReferenceArchitectures.Names)
        {
            foreach (var budget in budgets)
            {
                cases.Add(new(string.Create(CultureInfo.InvariantCulture, $"{reference}@{budget / 1000}k"), WidthScaler.ScaleToBudget(ReferenceArchitectures.Get(reference, input), budget).Spec));
            }
        }

        cases.Add(new("downsamplers", Downsamplers(input)));
        foreach (var cell in (string[])["|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|", "|avg_pool_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|"])
        {
            cases.Add(new($"nb201:{cell}", Nb201.ToSpec(cell, input, channels: 8, cellsPerStage: 1)));
        }

        foreach (var c in cases)
        {
            var analysis = ArchitectureAnalyzer.Analyze(c.Spec);
            if (!analysis.IsValid)
            {
                throw new InvalidOperationException($"determinism case {c.Name} is not a valid spec: {string.Join("; ", analysis.Errors)}");
            }
        }

        return cases;
    }

    /// <summary>The replicas: orders cycle forward, reversed, shuffled; heaps cycle plain, perturbed, single-arena.</summary>
    public static IReadOnlyList<DeterminismReplica> Replicas(int count) => Enumerable.Range(0, count).Select(i => new DeterminismReplica(
        i,
        (i % 3) switch { 0 => "forward", 1 => "reversed", _ => $"shuffled:{i}" },
        (i % 3) switch
        {
            0 => new Dictionary<string, string>(),
            1 => new Dictionary<string, string> { ["MALLOC_PERTURB_"] = "165", ["MALLOC_MMAP_THRESHOLD_"] = "33554432" },
            _ => new Dictionary<string, string> { ["MALLOC_ARENA_MAX"] = "1", ["MALLOC_PERTURB_"] = "1" },
        })).ToList();

    /// <summary>Runs the replicas as separate processes (<paramref name="worker"/>) and collects what each measured.</summary>
    public static DeterminismReport Run(DeterminismSettings settings, WorkerCommand worker, Action<string> log, CancellationToken cancel = default)
    {
        if (settings.Replicas < 2)
        {
            throw new ArgumentException("determinism needs at least 2 replicas to compare", nameof(settings));
        }

        var cases = Cases(Input, settings.Budgets)
            .Where(c => settings.Filter.Count == 0 || settings.Filter.Any(f => c.Name.Contains(f, StringComparison.OrdinalIgnoreCase))).ToList();
        if (cases.Count == 0)
        {
            throw new ArgumentException($"no case matches {string.Join(", ", settings.Filter)}", nameof(settings));
        }

        var replicas = Replicas(settings.Replicas);
        var directory = Directory.CreateTempSubdirectory("fairnad-determinism-").FullName;
        var watch = Stopwatch.StartNew();
        using var load = new CpuLoad(settings.Load);
        try
        {
            var records = new IReadOnlyDictionary<string, DeterminismRecord>[replicas.Count];
            var failures = new string?[replicas.Count];
            Parallel.For(0, replicas.Count, new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, settings.Parallel), CancellationToken = cancel }, i =>
            {
                var replica = replicas[i];
                var plan = Path.Combine(directory, $"plan-{i}.json");
                var output = Path.Combine(directory, $"replica-{i}.jsonl");
                File.WriteAllText(plan, JsonSerializer.Serialize(new ReplicaPlan(Dataset, settings.DataDirectory, settings.Config, Ordered(cases, replica.Order).Select(c => new PlannedCase(c.Name, SpecJson.Write(c.Spec))).ToList()), Json));
                log($"replica {replica.Describe()}: {cases.Count} case(s)");
                failures[i] = RunProcess(worker, ["bench", "determinism-replica", plan, output], replica.Environment, cancel);
                records[i] = File.Exists(output) ? ReadRecords(output) : new Dictionary<string, DeterminismRecord>();
                log($"replica #{i} done: {records[i].Count} case(s){(failures[i] is null ? string.Empty : $", failed: {failures[i]}")}");
            });
            return new DeterminismReport(cases, replicas, records, failures.Select((f, i) => f is null ? null : $"replica #{i}: {f}").OfType<string>().ToList(), watch.Elapsed.TotalSeconds);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>The worker side: trains the plan's cases in order in this process, appending one JSON line per case.</summary>
    public static void RunReplica(string planPath, string outputPath)
    {
        var plan = JsonSerializer.Deserialize<ReplicaPlan>(File.ReadAllText(planPath), Json) ?? throw new FormatException($"{planPath}: empty plan");
        var splits = DatasetCatalog.Load(plan.Dataset, DatasetCatalog.DataDirectory(plan.DataDirectory));
        using var data = TensorData.Prepare(splits, plan.Config);
        using var stream = new FileStream(outputPath, FileMode.Create, FileAccess.Write, FileShare.Read);
        foreach (var planned in plan.Cases)
        {
            var spec = SpecJson.Read(planned.Spec, planned.Name);
            var watch = Stopwatch.StartNew();
            var result = Trainer.Evaluate(spec, data, plan.Config);
            var record = new DeterminismRecord(planned.Name, spec.Id, result.Parameters, result.Status, result.FailureCategory is null ? null : $"{result.FailureCategory}: {result.FailureMessage}",
                result.TrainLoss, result.ValidationAccuracy, result.TestAccuracy, result.WeightsSha256, watch.Elapsed.TotalSeconds);
            stream.Write(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(record, Json) + "\n"));
            stream.Flush();
        }
    }

    /// <summary>The report as a table: one row per case, the weights fingerprint, and whether every replica agreed.</summary>
    public static string Table(DeterminismReport report)
    {
        var differences = report.Differences().ToLookup(d => d.Case, d => d.Difference);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{"case",-44} {"parameters",10} {"status",-8} {"loss",10} {"val %",6} {"weights sha256",14} {"s/run",6}  replicas\n");
        foreach (var c in report.Cases)
        {
            var first = report.Records.Select(r => r.GetValueOrDefault(c.Name)).FirstOrDefault(r => r is not null);
            var verdict = differences[c.Name].Any() ? "DIFFER: " + string.Join("; ", differences[c.Name]) : $"{report.Replicas.Count} identical";
            var name = c.Name.Length > 44 ? c.Name[..41] + "..." : c.Name;
            text.Append(CultureInfo.InvariantCulture,
                $"{name,-44} {first?.Parameters ?? 0,10:N0} {first?.Status ?? "-",-8} {(first?.TrainLoss.Count > 0 ? first.TrainLoss[^1].ToString("F6", CultureInfo.InvariantCulture) : "-"),10} {(first?.ValidationAccuracy.Count > 0 ? first.ValidationAccuracy[^1].ToString("F1", CultureInfo.InvariantCulture) : "-"),6} {first?.WeightsSha256?[..12] ?? "-",14} {Mean(report, c.Name),6:F2}  {verdict}\n");
        }

        var count = differences.Count;
        text.Append(CultureInfo.InvariantCulture, $"\n{report.Cases.Count} case(s) x {report.Replicas.Count} replica process(es) in {report.Seconds:F0} s: ");
        text.Append(count == 0 && report.ReplicaFailures.Count == 0 ? "every case bit-identical in every replica\n" : $"{count} case(s) differ\n");
        foreach (var replica in report.Replicas)
        {
            text.Append(CultureInfo.InvariantCulture, $"  replica {replica.Describe()}\n");
        }

        foreach (var failure in report.ReplicaFailures)
        {
            text.Append(CultureInfo.InvariantCulture, $"  {failure}\n");
        }

        return text.ToString();
    }

    private static double Mean(DeterminismReport report, string name)
    {
        var seconds = report.Records.Select(r => r.GetValueOrDefault(name)).OfType<DeterminismRecord>().Select(r => r.Seconds).ToList();
        return seconds.Count == 0 ? 0 : seconds.Average();
    }

    private static IEnumerable<DeterminismCase> Ordered(IReadOnlyList<DeterminismCase> cases, string order) => order switch
    {
        "forward" => cases,
        "reversed" => cases.Reverse(),
        _ when order.StartsWith("shuffled:", StringComparison.Ordinal) => Splits.Permutation(cases.Count, int.Parse(order["shuffled:".Length..], CultureInfo.InvariantCulture)).Select(i => cases[i]),
        _ => throw new ArgumentException($"unknown order '{order}'", nameof(order)),
    };

    private static Dictionary<string, DeterminismRecord> ReadRecords(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).Select(l => JsonSerializer.Deserialize<DeterminismRecord>(l, Json)!).ToDictionary(r => r.Case, StringComparer.Ordinal);

    /// <summary>Runs a worker to completion; null when it exited 0, else what went wrong (exit code and the end of stderr).</summary>
    private static string? RunProcess(WorkerCommand worker, IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string> environment, CancellationToken cancel)
    {
        var start = new ProcessStartInfo(worker.FileName) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in worker.Prefix.Concat(arguments))
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        FairNad.Evaluation.Isolation.WorkerLifetime.Mark(start, null);

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {worker.FileName}");
        var stderr = process.StandardError.ReadToEndAsync(cancel);
        _ = process.StandardOutput.ReadToEndAsync(cancel);
        process.WaitForExitAsync(cancel).GetAwaiter().GetResult();
        var tail = stderr.GetAwaiter().GetResult().Trim();
        return process.ExitCode == 0 ? null : $"exit code {process.ExitCode}: {(tail.Length > 2000 ? tail[^2000..] : tail)}";
    }

    /// <summary>Single-node networks: each operator (each activation and convolution variant) between a stem and a head.</summary>
    private static IEnumerable<(string Name, NodeSpec Node)> OperatorNodes()
    {
        foreach (var op in Operators.All.OrderBy(o => o.Name, StringComparer.Ordinal))
        {
            switch (op.Name)
            {
                case "act":
                    foreach (var fn in Operators.Activations)
                    {
                        yield return ($"act:{fn}", new NodeSpec("x", "act", "c").With("fn", fn));
                    }

                    break;
                case "conv":
                    yield return ("conv", new NodeSpec("x", "conv", "c"));
                    yield return ("conv:depthwise5", new NodeSpec("x", "conv", "c").With("depthwise", true).With("kernel", 5));
                    yield return ("conv:dilated", new NodeSpec("x", "conv", "c").With("dilation", 2).With("bias", true));
                    yield return ("conv:grouped1x1", new NodeSpec("x", "conv", "c").With("groups", 2).With("kernel", 1));
                    break;
                case "add" or "concat":
                    yield return (op.Name, new NodeSpec("x", op.Name, "c", "input"));
                    break;
                case "mul":
                    yield return ("mul:gate", new NodeSpec("x", "mul", "input", "g"));
                    break;
                case Operators.WindowAttentionName:
                    yield return (op.Name, new NodeSpec("x", op.Name, "c"));
                    yield return ($"{op.Name}:shifted3", new NodeSpec("x", op.Name, "c").With("window", 3).With("shift", true));
                    break;
                default:
                    yield return (op.Name, new NodeSpec("x", op.Name, "c"));
                    break;
            }
        }
    }

    /// <summary>
    /// A strided stem (14 x 14 from 28 x 28, so attention and token mixing stay cheap), then two stages whose block is
    /// conv -> the operator -> 1 x 1 projection, added to the block input (or, when the operator pools to 1 x 1, gating it),
    /// then the head. The extra nodes give the operator trainable neighbours so its backward pass runs.
    /// </summary>
    private static ArchitectureSpec OperatorNetwork(string name, InputSpec input, NodeSpec node)
    {
        var nodes = new List<NodeSpec> { new NodeSpec("c", "conv", "input").With("kernel", 3) };
        if (node.Op == "mul")
        {
            nodes.Add(new NodeSpec("p", "global_avg_pool", "c"));
            nodes.Add(new NodeSpec("g", "act", "p").With("fn", "sigmoid"));
        }

        nodes.Add(node);
        if (node.Op == "global_avg_pool")
        {
            nodes.Add(new NodeSpec("proj", "conv", "x").With("kernel", 1));
            nodes.Add(new NodeSpec("gate", "act", "proj").With("fn", "sigmoid"));
            nodes.Add(new NodeSpec("out", "mul", "input", "gate"));
        }
        else
        {
            nodes.Add(new NodeSpec("proj", "conv", "x").With("kernel", 1));
            nodes.Add(new NodeSpec("out", "add", "proj", "input"));
        }

        return new ArchitectureSpec(
            $"determinism-{name}",
            input,
            new StemSpec(StemKind.Conv, 8, 3, 2, "relu"),
            [new StageSpec(1, 8, DownsampleKind.None), new StageSpec(1, 16, DownsampleKind.StridedConv)],
            new BlockSpec(nodes, "out"),
            new HeadSpec("none", 0));
    }

    /// <summary>A patchify stem, then residual reduction, patch merging and pool-conv downsampling, and a pre-activated head with dropout.</summary>
    private static ArchitectureSpec Downsamplers(InputSpec input) => new(
        "determinism-downsamplers",
        input,
        new StemSpec(StemKind.Patchify, 8, 2, 2, "none"),
        [
            new StageSpec(1, 8, DownsampleKind.None),
            new StageSpec(1, 16, DownsampleKind.ResidualReduction),
            new StageSpec(1, 24, DownsampleKind.PatchMerging),
            new StageSpec(1, 32, DownsampleKind.AvgPoolConv),
        ],
        new BlockSpec([new NodeSpec("sep", "sep_conv", "input").With("kernel", 3), new NodeSpec("sum", "add", "sep", "input")], "sum"),
        new HeadSpec("gelu", 0.2));

    private sealed record PlannedCase(string Name, string Spec);

    private sealed record ReplicaPlan(string Dataset, string? DataDirectory, TrainingConfig Config, IReadOnlyList<PlannedCase> Cases);

    /// <summary>Busy threads, for running the benchmark while the machine is loaded.</summary>
    private sealed class CpuLoad : IDisposable
    {
        private readonly List<Thread> _threads = [];
        private volatile bool _stop;

        public CpuLoad(int threads)
        {
            for (var i = 0; i < threads; i++)
            {
                var thread = new Thread(Burn) { IsBackground = true, Name = $"cpu-load-{i}" };
                thread.Start();
                _threads.Add(thread);
            }
        }

        public void Dispose()
        {
            _stop = true;
            foreach (var thread in _threads)
            {
                thread.Join();
            }
        }

        private void Burn()
        {
            var x = 1.0;
            while (!_stop)
            {
                for (var i = 0; i < 1_000_000; i++)
                {
                    x = (x * 1.0000001) + 1e-9;
                }
            }

            GC.KeepAlive(x);
        }
    }
}
