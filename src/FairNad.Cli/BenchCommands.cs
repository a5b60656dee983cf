using System.Diagnostics;
using System.Globalization;
using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Evaluation;
using FairNad.Evaluation.Compilation;
using FairNad.Evaluation.Modules;
using TorchSharp;

namespace FairNad.Cli;

/// <summary>
/// `fairnad bench models`: the architecture layer's throughput over the NAS-Bench-201 space: parse + analysis + plan +
/// build + one forward pass for every cell string of a table, then the generated-code path (codegen + Roslyn compile +
/// load + build + forward) for a sample. Wall-clock figures on this machine; compare ratios, not absolutes.
/// </summary>
internal static class BenchCommands
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static int Models(string table, int limit, int compileSample, int threads, string dataset, TextWriter output, TextWriter log)
    {
        if (Directory.Exists(table))
        {
            throw new UsageException($"table {table} is a directory; expected a NAS-Bench-201 table (CSV) such as {Path.Combine(table, "nb201_cifar10-valid.csv")}");
        }

        if (!File.Exists(table))
        {
            throw new UsageException($"NAS-Bench-201 table '{table}' does not exist (the repository's copy lives under ../shared/data/nb201 or knowledge/nb201)");
        }

        var cells = ReadCells(table);
        if (limit > 0)
        {
            cells = Even(cells, limit);
        }

        var info = TorchRuntime.Configure(threads, 0);
        var input = ArchitectureSource.InputFor(dataset);
        output.WriteLine(string.Create(Invariant, $"table       {table}: {cells.Count:N0} cell strings, input {input.Channels}x{input.Resolution}x{input.Resolution}, {input.Classes} classes"));
        output.WriteLine($"torch       TorchSharp {info.TorchSharpVersion}, {info.Device}, {info.Threads} thread(s)");

        var phases = new[] { "parse", "analyse", "plan", "build", "forward" };
        var times = new double[phases.Length];
        var perCell = new List<double>(cells.Count);
        long minParameters = long.MaxValue, maxParameters = 0;
        string minCell = string.Empty, maxCell = string.Empty;
        var mismatches = 0;
        using var batch = torch.randn([1, input.Channels, input.Resolution, input.Resolution], generator: new torch.Generator(0));
        var total = Stopwatch.StartNew();
        var watch = new Stopwatch();
        for (var i = 0; i < cells.Count; i++)
        {
            var start = total.Elapsed.TotalMilliseconds;
            watch.Restart();
            var spec = Nb201.ToSpec(cells[i], input);
            times[0] += Lap(watch);
            var analysis = ArchitectureAnalyzer.Analyze(spec);
            times[1] += Lap(watch);
            var plan = NetworkPlanner.Plan(spec);
            times[2] += Lap(watch);
            using (var scope = torch.NewDisposeScope())
            {
                using var network = new InterpretedNetwork(plan);
                network.eval();
                times[3] += Lap(watch);
                using (torch.no_grad())
                {
                    var logits = network.forward(batch);
                    if (logits.shape[1] != input.Classes)
                    {
                        throw new InvalidOperationException($"{cells[i]}: output {string.Join("x", logits.shape)}");
                    }
                }

                times[4] += Lap(watch);
                if (network.parameters().Sum(p => p.numel()) != analysis.Parameters)
                {
                    mismatches++;
                }
            }

            (minParameters, minCell) = analysis.Parameters < minParameters ? (analysis.Parameters, cells[i]) : (minParameters, minCell);
            (maxParameters, maxCell) = analysis.Parameters > maxParameters ? (analysis.Parameters, cells[i]) : (maxParameters, maxCell);
            perCell.Add(total.Elapsed.TotalMilliseconds - start);
            if ((i + 1) % 500 == 0 || i + 1 == cells.Count)
            {
                log.WriteLine(string.Create(Invariant, $"  {i + 1:N0}/{cells.Count:N0} cells, {total.Elapsed.TotalSeconds:F0} s"));
            }
        }

        output.WriteLine(string.Create(Invariant, $"total       {total.Elapsed.TotalSeconds:F1} s for {cells.Count:N0} cells ({total.Elapsed.TotalMilliseconds / cells.Count:F2} ms per cell; median {Median(perCell):F2} ms, p95 {Percentile(perCell, 0.95):F2} ms)"));
        for (var p = 0; p < phases.Length; p++)
        {
            output.WriteLine(string.Create(Invariant, $"  {phases[p],-9} {times[p] / 1000:F2} s ({times[p] / cells.Count:F3} ms per cell, {times[p] / times.Sum():P1})"));
        }

        output.WriteLine(string.Create(Invariant, $"parameters  {minParameters:N0} ({minCell}) .. {maxParameters:N0} ({maxCell}); analytic != TorchSharp count: {mismatches}"));
        var compileStatus = compileSample > 0 ? CompileSample(Even(cells, compileSample), input, output) : 0;
        return mismatches == 0 ? compileStatus : 1;
    }

    private static int CompileSample(IReadOnlyList<string> cells, InputSpec input, TextWriter output)
    {
        // The first compilation pays for loading and JIT-compiling Roslyn itself; report it apart from the steady state.
        var plans = cells.Select(c => NetworkPlanner.Plan(Nb201.ToSpec(c, input))).ToList();
        var codegen = new List<double>();
        var compile = new List<double>();
        var run = new List<double>();
        var disagreements = 0;
        using var batch = torch.randn([1, input.Channels, input.Resolution, input.Resolution], generator: new torch.Generator(0));
        var watch = new Stopwatch();
        for (var i = 0; i < plans.Count; i++)
        {
            var plan = plans[i];
            watch.Restart();
            var code = TorchSharpCodeWriter.Write(plan);
            codegen.Add(Lap(watch));
            using var assembly = CandidateCompiler.Compile($"bench_{i}", [new SourceFile("Network.cs", code)]);
            compile.Add(Lap(watch));
            using var scope = torch.NewDisposeScope();
            torch.manual_seed(i);
            using var network = assembly.CreateNetwork(plan.CandidateId);
            network.eval();
            using (torch.no_grad())
            {
                var y = network.forward(batch);
                run.Add(Lap(watch));
                torch.manual_seed(i);
                using var reference = new InterpretedNetwork(plan);
                reference.eval();
                if (!reference.forward(batch).eq(y).all().item<bool>())
                {
                    disagreements++;
                }
            }
        }

        var code0 = TorchSharpCodeWriter.Write(plans[0]);
        output.WriteLine(string.Create(Invariant, $"generated   {plans.Count} cells: codegen {Median(codegen):F2} ms, Roslyn compile + load {Median(compile):F0} ms (median; first {compile[0]:F0} ms), build + forward {Median(run):F1} ms; {code0.Split('\n').Length} lines of C# per cell"));
        var batched = Stopwatch.StartNew();
        using (CandidateCompiler.Compile("bench_all", plans.Select((p, i) => new SourceFile($"c{i}.cs", TorchSharpCodeWriter.Write(p)))))
        {
            output.WriteLine(string.Create(Invariant, $"            all {plans.Count} in one compilation: {batched.Elapsed.TotalMilliseconds:F0} ms ({batched.Elapsed.TotalMilliseconds / plans.Count:F0} ms per cell)"));
        }

        output.WriteLine($"agreement   generated vs interpreted outputs identical for {plans.Count - disagreements}/{plans.Count} cells");
        return disagreements == 0 ? 0 : 1;
    }

    private static List<string> ReadCells(string table)
    {
        using var reader = new StreamReader(table);
        var header = reader.ReadLine()?.Split(',') ?? throw new UsageException($"{table} is empty");
        var column = Array.IndexOf(header, "arch str");
        if (column < 0)
        {
            throw new UsageException($"{table}: no 'arch str' column in the header");
        }

        var cells = new List<string>();
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            cells.Add(line.Split(',')[column]);
        }

        return cells;
    }

    private static List<string> Even(IReadOnlyList<string> cells, int count) =>
        Enumerable.Range(0, Math.Min(count, cells.Count)).Select(i => cells[(int)((long)i * cells.Count / Math.Min(count, cells.Count))]).ToList();

    private static double Lap(Stopwatch watch)
    {
        var elapsed = watch.Elapsed.TotalMilliseconds;
        watch.Restart();
        return elapsed;
    }

    private static double Median(List<double> values) => Percentile(values, 0.5);

    private static double Percentile(List<double> values, double q)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Round(q * (sorted.Count - 1)))];
    }

    /// <summary>The NB201 tables the proxy benchmark reads, with the published synflow rho on all 15,625 cells (Abdelfattah et al. 2021, Table 1).</summary>
    public static readonly IReadOnlyList<(string File, string Dataset, double Published)> ProxyTables =
    [
        ("nb201_cifar10-valid.csv", "cifar10", 0.737),
        ("nb201_cifar100.csv", "cifar100", 0.763),
        ("nb201_ImageNet16-120.csv", "imagenet16-120", 0.751),
    ];

    /// <summary>
    /// `fairnad bench proxies`: synflow (data-free) on a seeded sample of NAS-Bench-201 cells, or on all 15,625
    /// (<paramref name="sample"/> null), Spearman rho against the tables' test accuracies (CIFAR-10: the cifar10-valid
    /// table, as the reference code reads it), next to the parameter count as a baseline and the published all-cell values.
    /// With <paramref name="scoresPath"/>, every cell's score is appended to that CSV as soon as it is computed, and cells
    /// already in it (same dataset, cell, seed and <see cref="FairNad.Evaluation.Proxies.ZeroCostProxies.SynflowRecipe"/>)
    /// are read back rather than recomputed, so an interrupted or repeated all-cell run loses nothing.
    /// </summary>
    public static int Proxies(string directory, int? sample, int seed, IReadOnlyList<string> datasets, string? scoresPath, TextWriter output, TextWriter log)
    {
        var unknown = datasets.Where(d => ProxyTables.All(t => !t.Dataset.Equals(d, StringComparison.OrdinalIgnoreCase))).ToList();
        if (unknown.Count > 0)
        {
            throw new UsageException($"--dataset: unknown '{string.Join("', '", unknown)}'; known: {string.Join(", ", ProxyTables.Select(t => t.Dataset))}");
        }

        var tables = ProxyTables.Where(t => datasets.Count == 0 || datasets.Contains(t.Dataset, StringComparer.OrdinalIgnoreCase)).ToList();
        foreach (var (file, _, _) in tables)
        {
            if (!File.Exists(Path.Combine(directory, file)))
            {
                throw new UsageException($"{Path.Combine(directory, file)} does not exist");
            }
        }

        var recipe = FairNad.Evaluation.Proxies.ZeroCostProxies.SynflowRecipe;
        if (scoresPath is not null && DropIncompleteLastLine(scoresPath) is { } dropped)
        {
            log.WriteLine($"{scoresPath}: dropped an incomplete last line (a run interrupted while writing it): {dropped}");
        }

        var known = scoresPath is not null && File.Exists(scoresPath) ? ReadScores(scoresPath, recipe) : [];
        using var scores = scoresPath is null ? null : new StreamWriter(scoresPath, append: true);
        if (scores is not null && known.Count == 0 && new FileInfo(scoresPath!).Length == 0)
        {
            scores.WriteLine("dataset,file id,arch str,seed,recipe,synflow log10,parameters,test accuracy");
        }

        TorchRuntime.Configure(1, seed);
        output.WriteLine(sample is { } n
            ? string.Create(Invariant, $"cells       {n:N0} per table (seeded permutation, seed {seed}) of each table in {directory}; weights seed {seed}; recipe {recipe}")
            : string.Create(Invariant, $"cells       all of each table in {directory}; weights seed {seed}; recipe {recipe}"));
        output.WriteLine($"{"dataset",-16} {"cells",6} {"synflow rho",12} {"published",10} {"difference",11} {"params rho",11} {"seconds",8}");
        foreach (var (file, dataset, published) in tables)
        {
            var rows = ReadRows(Path.Combine(directory, file));
            // All cells are taken in the sample's seeded order too: the first N cells of an all-cell run are the N-cell sample,
            // and the cells a partial run has scored (see scoresPath) are a uniform sample of the table.
            var chosen = FairNad.Data.Splits.Permutation(rows.Count, seed).Take(sample ?? rows.Count).Select(i => rows[i]).ToList();
            var input = Nb201.InputFor(dataset);
            var synflow = new List<double>();
            var parameters = new List<double>();
            var watch = Stopwatch.StartNew();
            foreach (var (id, cell, accuracy) in chosen)
            {
                var plan = NetworkPlanner.Plan(Nb201.ToSpec(cell, input));
                if (!known.TryGetValue((dataset, cell, seed), out var score))
                {
                    score = FairNad.Evaluation.Proxies.ZeroCostProxies.Synflow(plan, seed);
                    scores?.WriteLine(string.Create(Invariant, $"{dataset},{id},{cell},{seed},{recipe},{score:R},{plan.Analysis.Parameters},{accuracy:R}"));
                    if (synflow.Count % 100 == 99)
                    {
                        scores?.Flush();
                    }
                }

                synflow.Add(score);
                parameters.Add(plan.Analysis.Parameters);
            }

            scores?.Flush();
            var testAccuracy = chosen.Select(c => c.TestAccuracy).ToList();
            // A cell with no path to the output scores -infinity (the reference's raw sum is 0): the lowest rank, tied.
            var finite = synflow.Select(v => double.IsFinite(v) ? v : -1e300).ToList();
            var rho = FairNad.Evaluation.Proxies.ZeroCostProxies.Spearman(finite, testAccuracy);
            output.WriteLine(string.Create(Invariant,
                $"{dataset,-16} {chosen.Count,6} {rho,12:F3} {published,10:F3} {rho - published,11:+0.000;-0.000;0.000} {FairNad.Evaluation.Proxies.ZeroCostProxies.Spearman(parameters, testAccuracy),11:F3} {watch.Elapsed.TotalSeconds,8:F1}"));
            output.Flush();
            log.Flush();
        }

        return 0;
    }

    /// <summary>
    /// A run killed while writing a row leaves the file without its final newline; that partial row is no record (it is
    /// recomputed), and appending after it would corrupt the next one, so it is cut off. Returns the text cut, or null.
    /// </summary>
    private static string? DropIncompleteLastLine(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        if (stream.Length == 0)
        {
            return null;
        }

        stream.Seek(-1, SeekOrigin.End);
        if (stream.ReadByte() == '\n')
        {
            return null;
        }

        var length = stream.Length;
        var end = length - 1;
        while (end >= 0)
        {
            stream.Seek(end, SeekOrigin.Begin);
            if (stream.ReadByte() == '\n')
            {
                break;
            }

            end--;
        }

        var keep = end + 1;
        var tail = new byte[length - keep];
        stream.Seek(keep, SeekOrigin.Begin);
        stream.ReadExactly(tail);
        stream.SetLength(keep);
        return System.Text.Encoding.UTF8.GetString(tail);
    }

    /// <summary>Scores of an earlier run's CSV by (dataset, cell, seed); a row of another recipe is an error, not a silent reuse.</summary>
    private static Dictionary<(string Dataset, string Cell, int Seed), double> ReadScores(string path, string recipe)
    {
        var known = new Dictionary<(string, string, int), double>();
        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (number == 1 || line.Length == 0)
            {
                continue;
            }

            var fields = line.Split(',');
            if (fields.Length != 8 || !int.TryParse(fields[3], NumberStyles.Integer, Invariant, out var rowSeed) ||
                !double.TryParse(fields[5], NumberStyles.Float, Invariant, out var score))
            {
                throw new UsageException($"{path}: line {number}: expected dataset,file id,arch str,seed,recipe,synflow log10,parameters,test accuracy");
            }

            if (fields[4] != recipe)
            {
                throw new UsageException($"{path}: line {number}: scored by synflow recipe '{fields[4]}', this build computes '{recipe}'; use another --scores file");
            }

            known[(fields[0], fields[2], rowSeed)] = score;
        }

        return known;
    }

    /// <summary>
    /// `fairnad bench overhead`, in one run and side by side: per candidate, the bare training loop in this process (the
    /// same model, data and steps) against the whole harness in a fresh worker process per candidate (cold: process start,
    /// libtorch load, data preparation, build, training, test accuracy, latency, result document) and on a warm worker
    /// (the same minus what the worker keeps between jobs). First at a tiny fidelity, three rounds, against the same job
    /// in this process on prepared data (training, test accuracy, latency): harness minus that is the fixed cost per
    /// candidate; then at <paramref name="config"/>, against the bare training loop: the overhead in percent.
    /// The warm worker is started and given one job before anything is timed: its start is paid once per worker, not
    /// per candidate.
    /// </summary>
    /// <summary>
    /// `fairnad bench ladder`: accuracy per CPU-minute with and without a fidelity ladder, side by side in one run
    /// (<see cref="FairNad.Experiments.LadderBenchmark"/>). Prints each arm's CPU time, best candidate and its test accuracy,
    /// the ratios, and the CPU time each arm needed to come within one point of the top-rung arm's final best.
    /// </summary>
    public static int Ladder(string experiment, string? profile, IReadOnlyList<string> rungTexts, double promote, int? candidates, string? dataDirectory, bool equalCpu, TextWriter output, TextWriter log)
    {
        var rungs = new List<FairNad.Experiments.Rung>();
        foreach (var text in rungTexts)
        {
            var parts = text.Split(':');
            if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, Invariant, out var epochs) ||
                !(parts[1] == "all" || int.TryParse(parts[1], NumberStyles.None, Invariant, out _)))
            {
                log.WriteLine($"--rungs: '{text}' is not <epochs>:<training images> (e.g. 1:2000) or <epochs>:all");
                return 2;
            }

            rungs.Add(new FairNad.Experiments.Rung(epochs, parts[1] == "all" ? null : int.Parse(parts[1], Invariant)));
        }

        var settings = new FairNad.Experiments.LadderBenchmarkSettings(experiment, profile, new FairNad.Experiments.Ladder(rungs, promote), candidates, dataDirectory, equalCpu);
        var arms = FairNad.Experiments.LadderBenchmark.RunAsync(settings, EvaluateCommands.Worker, log.WriteLine).GetAwaiter().GetResult();
        output.WriteLine(string.Create(Invariant,
            $"ladder      {experiment}{(profile is null ? string.Empty : $" (profile {profile})")}: rungs {string.Join(", ", rungs.Select(r => $"{r.Epochs} epoch(s) x {r.TrainSubset?.ToString("N0", Invariant) ?? "all"} images"))}, promote {promote:G3}; candidates in this process, one at a time; CPU time of this process"));
        foreach (var arm in arms)
        {
            var best = arm.Best;
            output.WriteLine(string.Create(Invariant,
                $"{arm.Name,-17} {arm.Candidates} candidates, {arm.Evaluations} evaluations, CPU {arm.CpuSeconds / 60:F2} min; best {best?.Candidate[..12] ?? "-"} (rung {best?.Rung ?? 0}) validation {best?.Validation:F2}%, test {best?.Test:F2}%; test accuracy per CPU-minute {(best?.Test ?? 0) / (arm.CpuSeconds / 60):F2}"));
        }

        var top = arms[0];
        if (top.Best?.Test is { } topTest)
        {
            foreach (var ladder in arms.Skip(1).Where(a => a.Best?.Test is not null))
            {
                var ladderTest = ladder.Best!.Test!.Value;
                output.WriteLine(string.Create(Invariant,
                    $"ratio       {ladder.Name}: CPU {ladder.Name}/top {ladder.CpuSeconds / top.CpuSeconds:F3}; best test {ladder.Name} - top {ladderTest - topTest:+0.00;-0.00;0.00} points; accuracy per CPU-minute {ladder.Name}/top {ladderTest / ladder.CpuSeconds / (topTest / top.CpuSeconds):F2}"));
            }

            var target = topTest - 1;
            string Reach(FairNad.Experiments.LadderArm arm) => arm.CpuSecondsToReach(target) is { } s ? string.Create(Invariant, $"{s / 60:F2} CPU-min") : "not reached";
            output.WriteLine(string.Create(Invariant, $"reach       best test within 1 point of the top-rung arm's final {topTest:F2}% (>= {target:F2}%): {string.Join(", ", arms.Select(a => $"{a.Name} {Reach(a)}"))}"));
        }

        return 0;
    }

    public static int Overhead(IReadOnlyList<ArchitectureSpec> specs, FairNad.Evaluation.Training.TrainingConfig config, TextWriter output, TextWriter log)
    {
        var splits = FairNad.Data.DatasetCatalog.Load("fashion-mnist", FairNad.Data.DatasetCatalog.DataDirectory());
        var directory = Directory.CreateTempSubdirectory("fairnad-overhead-").FullName;
        var limits = new FairNad.Evaluation.Isolation.WorkerLimits(TimeSpan.FromHours(1), 16L << 30);
        var tiny = config with { Epochs = 1, TrainSubset = 100, ValidationSubset = 100, LatencyRepeats = 1 };
        const int rounds = 3;
        var failed = 0;
        try
        {
            using var warm = new FairNad.Experiments.WarmProcessExecutor(EvaluateCommands.Worker, 1);
            var jobs = 0;
            // The baseline: the bare training loop, or (fixed cost) the whole of what a worker does for a job once its data
            // is prepared (training, test accuracy, latency), in this process; harness minus that is what isolation costs.
            (double Loop, double Cold, double Warm, FairNad.Evaluation.Training.EvaluationResult ColdResult, FairNad.Evaluation.Training.EvaluationResult Result)? Measure(ArchitectureSpec spec, FairNad.Evaluation.Training.TrainingConfig at, bool wholeJob)
            {
                double loop;
                string? loopFailure;
                using (var data = FairNad.Evaluation.Training.TensorData.Prepare(splits, at))
                {
                    TorchRuntime.Configure(at.Threads, at.Seed);
                    if (wholeJob)
                    {
                        var watch0 = Stopwatch.StartNew();
                        var inProcess = FairNad.Evaluation.Training.Trainer.Evaluate(spec, data, at);
                        (loop, loopFailure) = (watch0.Elapsed.TotalSeconds, inProcess.Status == "ok" ? null : inProcess.FailureMessage);
                    }
                    else
                    {
                        using var model = new InterpretedNetwork(NetworkPlanner.Plan(spec));
                        (_, _, loopFailure, loop, _) = FairNad.Evaluation.Training.Trainer.Train(model, data, at);
                    }
                }

                var watch = Stopwatch.StartNew();
                var coldJob = EvaluateCommands.Worker.EvaluateJob(spec, "fashion-mnist", null, at, Path.Combine(directory, $"{++jobs}", $"{spec.Id}.json"));
                var cold = FairNad.Evaluation.Isolation.WorkerPool.Run(coldJob, limits);
                var coldSeconds = watch.Elapsed.TotalSeconds;
                watch.Restart();
                var warmResult = warm.RunAsync(EvaluateCommands.Worker.EvaluateJob(spec, "fashion-mnist", null, at, Path.Combine(directory, $"{++jobs}", $"{spec.Id}.json")), limits).GetAwaiter().GetResult();
                var warmSeconds = watch.Elapsed.TotalSeconds;
                if (loopFailure is not null || cold.Status != "ok" || warmResult.Status != "ok")
                {
                    // A run that stopped early took less time: comparing it would report a fake (even negative) overhead.
                    failed++;
                    var reason = loopFailure is not null ? $"the bare loop failed ({loopFailure})"
                        : cold.Status != "ok" ? $"the cold worker failed ({cold.FailureCategory}: {cold.FailureMessage})"
                        : $"the warm worker failed ({warmResult.FailureCategory}: {warmResult.FailureMessage})";
                    output.WriteLine($"{spec.Id[..12],-14} not compared: {reason}");
                    return null;
                }

                return (loop, coldSeconds, warmSeconds, cold, warmResult);
            }

            log.WriteLine("starting the warm worker (not timed)");
            var warmUp = warm.RunAsync(EvaluateCommands.Worker.EvaluateJob(specs[0], "fashion-mnist", null, tiny, Path.Combine(directory, "warm-up", $"{specs[0].Id}.json")), limits).GetAwaiter().GetResult();
            if (warmUp.Status != "ok")
            {
                output.WriteLine($"the warm worker did not start: {warmUp.FailureCategory}: {warmUp.FailureMessage}");
                return 1;
            }

            output.WriteLine(string.Create(Invariant, $"data        {splits.Source}"));
            output.WriteLine(string.Create(Invariant,
                $"fixed cost per candidate: tiny fidelity ({tiny.Epochs} epoch, {tiny.TrainSubset} images, {tiny.Threads} thread(s)), {rounds} round(s); job s = the same job in this process on prepared data (train, test, latency); fixed = harness - job"));
            output.WriteLine($"{"candidate",-14} {"job s",8} {"cold s",8} {"warm s",8} {"cold fixed s",13} {"warm fixed s",13}");
            double coldFixed = 0, warmFixed = 0, coldTotal = 0, warmTotal = 0;
            var fixedCount = 0;
            for (var round = 0; round < rounds; round++)
            {
                foreach (var spec in specs)
                {
                    if (Measure(spec, tiny, wholeJob: true) is not { } m)
                    {
                        continue;
                    }

                    (coldFixed, warmFixed, fixedCount) = (coldFixed + m.Cold - m.Loop, warmFixed + m.Warm - m.Loop, fixedCount + 1);
                    (coldTotal, warmTotal) = (coldTotal + m.Cold, warmTotal + m.Warm);
                    output.WriteLine(string.Create(Invariant, $"{spec.Id[..12],-14} {m.Loop,8:F2} {m.Cold,8:F2} {m.Warm,8:F2} {m.Cold - m.Loop,13:F2} {m.Warm - m.Loop,13:F2}"));
                }
            }

            if (fixedCount > 0)
            {
                output.WriteLine(string.Create(Invariant,
                    $"mean fixed  cold {coldFixed / fixedCount:F2} s, warm {warmFixed / fixedCount:F2} s per candidate; harness per tiny candidate cold {coldTotal / fixedCount:F2} s, warm {warmTotal / fixedCount:F2} s (cold / warm x{coldTotal / warmTotal:F2})"));
            }

            output.WriteLine(string.Create(Invariant,
                $"overhead: {config.Epochs} epoch(s), {config.TrainSubset} images, batch {config.BatchSize}, {config.Threads} thread(s); ratio = harness / loop; outside = (harness - the worker's own training time) / that time, within one measurement, so machine load between measurements cancels"));
            output.WriteLine($"{"candidate",-14} {"loop s",8} {"cold s",8} {"warm s",8} {"cold ratio",11} {"warm ratio",11} {"train s in cold",16} {"in warm",8} {"cold outside",13} {"warm outside",13}");
            double loops = 0, colds = 0, warms = 0, coldTrains = 0, warmTrains = 0;
            foreach (var spec in specs)
            {
                if (Measure(spec, config, wholeJob: false) is not { } m)
                {
                    continue;
                }

                (loops, colds, warms) = (loops + m.Loop, colds + m.Cold, warms + m.Warm);
                (coldTrains, warmTrains) = (coldTrains + m.ColdResult.TrainSeconds, warmTrains + m.Result.TrainSeconds);
                output.WriteLine(string.Create(Invariant, $"{spec.Id[..12],-14} {m.Loop,8:F1} {m.Cold,8:F1} {m.Warm,8:F1} {m.Cold / m.Loop,11:F3} {m.Warm / m.Loop,11:F3} {m.ColdResult.TrainSeconds,16:F1} {m.Result.TrainSeconds,8:F1} {(m.Cold / m.ColdResult.TrainSeconds) - 1,13:P1} {(m.Warm / m.Result.TrainSeconds) - 1,13:P1}"));
            }

            if (loops > 0)
            {
                output.WriteLine(string.Create(Invariant,
                    $"total       loop {loops:F1} s, cold {colds:F1} s (overhead {((colds / loops) - 1) * 100:F1}%; outside training {((colds / coldTrains) - 1) * 100:F1}%), warm {warms:F1} s (overhead {((warms / loops) - 1) * 100:F1}%; outside training {((warms / warmTrains) - 1) * 100:F1}%){(failed > 0 ? $" ({failed} measurement(s) failed and are not counted)" : string.Empty)}"));
            }

            output.WriteLine($"warm worker processes started: {warm.WorkersStarted}");
            return failed == 0 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>
    /// `fairnad bench overhead --executor slurm`: per candidate and round, the same job once in a cold local worker
    /// (`fairnad evaluate` in a child process) and once as a Slurm job (the same command via sbatch, followed with squeue,
    /// the result read back), one after the other, so machine load between them is about the same. Slurm minus cold is
    /// what the executor costs per candidate: the job script and sbatch, the wait in the queue, the node starting the job,
    /// and the polling interval until the runner sees it ended. Both results must be the same (they are compared).
    /// </summary>
    public static int SlurmOverhead(IReadOnlyList<ArchitectureSpec> specs, FairNad.Evaluation.Training.TrainingConfig config, FairNad.Experiments.ExecutorOptions options, int rounds,
        TextWriter output, TextWriter log)
    {
        var scratch = Directory.CreateTempSubdirectory("fairnad-overhead-slurm-").FullName;
        var jobs = options.JobDirectory is { } shared ? Path.Combine(shared, Path.GetFileName(scratch)) : scratch;
        // 4 GiB: what the job asks Slurm for (--mem), within a small node's memory; a tiny candidate's worker needs far less.
        var limits = new FairNad.Evaluation.Isolation.WorkerLimits(TimeSpan.FromHours(1), 4L << 30);
        var tiny = config with { Epochs = 1, TrainSubset = 100, ValidationSubset = 100, LatencyRepeats = 1 };
        try
        {
            try
            {
                FairNad.Experiments.Slurm.SlurmExecutor.PreflightAsync(options, jobs).GetAwaiter().GetResult();
            }
            catch (FairNad.Experiments.ExperimentException e)
            {
                log.WriteLine($"error: {e.Message}");
                return 1;
            }

            using var slurm = new FairNad.Experiments.Slurm.SlurmExecutor(options, new FairNad.Experiments.Slurm.SlurmJobLog(Path.Combine(scratch, "slurm-jobs.jsonl")), "bench", log.WriteLine);
            output.WriteLine(string.Create(Invariant,
                $"executor overhead per candidate: tiny fidelity ({tiny.Epochs} epoch, {tiny.TrainSubset} images, {tiny.Threads} thread(s)), {rounds} round(s); cold = a fresh local worker, slurm = the same command as a Slurm job (poll every {options.PollSeconds ?? FairNad.Experiments.ExecutorOptions.DefaultPollSeconds:G} s); both results compared"));
            output.WriteLine($"{"candidate",-14} {"cold s",8} {"slurm s",8} {"slurm - cold s",15} {"same result",12}");
            var (colds, slurms, count, failed) = (0.0, 0.0, 0, 0);
            var job = 0;
            for (var round = 0; round < rounds; round++)
            {
                foreach (var spec in specs)
                {
                    var watch = Stopwatch.StartNew();
                    var cold = FairNad.Evaluation.Isolation.WorkerPool.Run(EvaluateCommands.Worker.EvaluateJob(spec, "fashion-mnist", null, tiny, Path.Combine(scratch, $"{++job}", $"{spec.Id}.json")), limits);
                    var coldSeconds = watch.Elapsed.TotalSeconds;
                    watch.Restart();
                    var viaSlurm = slurm.RunAsync(EvaluateCommands.Worker.EvaluateJob(spec, "fashion-mnist", null, tiny, Path.Combine(jobs, $"{++job}", $"{spec.Id}.json")), limits).GetAwaiter().GetResult();
                    var slurmSeconds = watch.Elapsed.TotalSeconds;
                    if (cold.Status != "ok" || viaSlurm.Status != "ok")
                    {
                        failed++;
                        output.WriteLine($"{spec.Id[..12],-14} not compared: {(cold.Status != "ok" ? $"the cold worker failed ({cold.FailureCategory}: {cold.FailureMessage})" : $"the Slurm job failed ({viaSlurm.FailureCategory}: {viaSlurm.FailureMessage})")}");
                        continue;
                    }

                    var same = cold.BestValidationAccuracy == viaSlurm.BestValidationAccuracy && cold.TestAccuracy == viaSlurm.TestAccuracy && cold.WeightsSha256 == viaSlurm.WeightsSha256;
                    failed += same ? 0 : 1;
                    (colds, slurms, count) = (colds + coldSeconds, slurms + slurmSeconds, count + 1);
                    output.WriteLine(string.Create(Invariant, $"{spec.Id[..12],-14} {coldSeconds,8:F2} {slurmSeconds,8:F2} {slurmSeconds - coldSeconds,15:F2} {(same ? "yes" : "NO"),12}"));
                }
            }

            if (count > 0)
            {
                output.WriteLine(string.Create(Invariant,
                    $"mean        cold {colds / count:F2} s, slurm {slurms / count:F2} s per candidate: the Slurm executor adds {(slurms - colds) / count:F2} s per candidate (x{slurms / colds:F2}){(failed > 0 ? $" ({failed} failed or differed)" : string.Empty)}"));
            }

            output.WriteLine($"Slurm jobs submitted: {slurm.JobsSubmitted}");
            return failed == 0 ? 0 : 1;
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
            if (jobs != scratch && Directory.Exists(jobs))
            {
                Directory.Delete(jobs, recursive: true);
            }
        }
    }

    /// <summary>`fairnad bench determinism`: the table of every case, and exit 1 when any replica disagrees or failed.</summary>
    public static int Determinism(FairNad.Experiments.DeterminismSettings settings, TextWriter output, TextWriter log)
    {
        if (settings.Replicas < 2 || settings.Parallel < 1 || settings.Load < 0 || settings.Config.Threads < 1 || settings.Budgets.Any(b => b < 1000))
        {
            throw new UsageException("--replicas must be at least 2, --jobs and --threads at least 1, --load at least 0, and every --budgets value at least 1000");
        }

        output.WriteLine(string.Create(Invariant,
            $"determinism {settings.Replicas} replica process(es), {settings.Parallel} at a time, {settings.Load} busy thread(s) of other load, {settings.Config.Threads} libtorch thread(s) each; kernels: {TorchRuntime.KernelPolicy}"));
        output.WriteLine(string.Create(Invariant,
            $"training    {settings.Config.TrainSubset} images in batches of {settings.Config.BatchSize} ({settings.Config.Epochs} epoch, lr {settings.Config.LearningRate}, augmentation {(settings.Config.Augment ? "on" : "off")}), validation {settings.Config.ValidationSubset}, test on the whole test split"));
        var report = FairNad.Experiments.DeterminismBenchmark.Run(settings, EvaluateCommands.Worker, line => log.WriteLine(line));
        output.Write(FairNad.Experiments.DeterminismBenchmark.Table(report));
        return report.Differences().Count == 0 && report.ReplicaFailures.Count == 0 ? 0 : 1;
    }

    /// <summary>`fairnad bench memory`: predicted against measured peak memory per calibration worker.</summary>
    public static int Memory(IReadOnlyList<long> budgets, IReadOnlyList<int> batches, TextWriter output, TextWriter log)
    {
        if (budgets.Count == 0 || budgets.Any(b => b < 20_000) || batches.Count == 0 || batches.Any(b => b < 1))
        {
            throw new UsageException("--budgets must be at least 20000 and --batches at least 1");
        }

        output.WriteLine(string.Create(Invariant,
            $"memory model  process {FairNad.Evaluation.Training.MemoryModel.Format(FairNad.Evaluation.Training.MemoryModel.ProcessBytes)}, data x{FairNad.Evaluation.Training.MemoryModel.DataFactor}, {FairNad.Evaluation.Training.MemoryModel.BytesPerParameter} B/parameter, activations x{FairNad.Evaluation.Training.MemoryModel.ActivationFactor}, attention x{FairNad.Evaluation.Training.MemoryModel.AttentionFactor}, workspace {FairNad.Evaluation.Training.MemoryModel.Format(FairNad.Evaluation.Training.MemoryModel.WorkspaceBytes)}"));
        var points = FairNad.Experiments.MemoryBenchmark.Run(FairNad.Experiments.MemoryBenchmark.Cases(budgets, batches), EvaluateCommands.Worker, line => log.WriteLine(line));
        output.Write(FairNad.Experiments.MemoryBenchmark.Table(points));
        return points.All(p => p.Ratio is not { } r || r <= 1) && points.All(p => p.Measured is not null) ? 0 : 1;
    }

    /// <summary>`fairnad bench operators`: compile, sandbox analysis and verification time per scripted operator source, and the repair distribution.</summary>
    public static int Operators(int repeats, TextWriter output, TextWriter log)
    {
        if (repeats < 1)
        {
            throw new UsageException("--repeats must be at least 1");
        }

        var report = FairNad.Experiments.OperatorBenchmark.Run(EvaluateCommands.Worker, repeats, line => log.WriteLine(line));
        output.Write(FairNad.Experiments.OperatorBenchmark.Table(report));
        return 0;
    }

    private static List<(string Id, string Cell, double TestAccuracy)> ReadRows(string table)
    {
        using var reader = new StreamReader(table);
        var header = reader.ReadLine()?.Split(',') ?? throw new UsageException($"{table} is empty");
        var id = Array.IndexOf(header, "file id");
        var cell = Array.IndexOf(header, "arch str");
        var test = Array.IndexOf(header, "test accuracy");
        if (cell < 0 || test < 0)
        {
            throw new UsageException($"{table}: needs 'arch str' and 'test accuracy' columns");
        }

        var rows = new List<(string, string, double)>();
        var number = 1;
        for (var line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            number++;
            var fields = line.Split(',');
            if (fields.Length <= new[] { id, cell, test }.Max() || !double.TryParse(fields[test], NumberStyles.Float, CultureInfo.InvariantCulture, out var accuracy))
            {
                throw new UsageException($"{table}: line {number}: expected an 'arch str' and a numeric 'test accuracy' field");
            }

            // The NB201 index ('file id'); a table without that column numbers its rows from 0.
            rows.Add((id >= 0 ? fields[id] : (number - 2).ToString(CultureInfo.InvariantCulture), fields[cell], accuracy));
        }

        return rows;
    }

    /// <summary>The NAS-Bench-201 strategy benchmark: prints the Markdown tables and, with <paramref name="outDirectory"/>, writes them and the anytime curves.</summary>
    public static int Nb201Strategies(FairNad.Search.Nb201BenchmarkSettings settings, string? outDirectory, TextWriter output, TextWriter log) =>
        Nb201Run(settings, null, string.Empty, "`./build.sh Benchmark --space nb201` (or `fairnad bench nb201 --out results/nb201`)", outDirectory, output, log);

    /// <summary>
    /// `fairnad bench nb201 --table`: the same benchmark on CSV tables of the cell space, one dataset per file (named by
    /// the file name); what each table holds and the cost's input are stated above the Markdown, in the file too.
    /// </summary>
    public static int Nb201Tables(FairNad.Search.Nb201BenchmarkSettings settings, IReadOnlyList<string> paths, string queryColumn, string reportColumn, string? input,
        string? outDirectory, TextWriter output, TextWriter log)
    {
        var tables = paths.Select(p => FairNad.Search.Nb201CsvTable.Load(p, queryColumn, reportColumn)).ToList();
        foreach (var clash in tables.GroupBy(t => t.Name, StringComparer.Ordinal).Where(g => g.Count() > 1))
        {
            throw new UsageException($"--table: {string.Join(" and ", clash.Select(t => t.Path))} would both be dataset '{clash.Key}' (the file name names the dataset); rename one");
        }

        var evaluators = new Dictionary<string, FairNad.Search.Nb201TableEvaluator>(StringComparer.Ordinal);
        var about = new System.Text.StringBuilder();
        foreach (var table in tables)
        {
            var (spec, source) = FairNad.Search.Nb201CsvTable.InputFor(table.Path, input);
            evaluators[table.Name] = table.Evaluator(spec);
            about.Append(Invariant, $"- `{table.Name}`: {Path.GetFileName(table.Path)}, cell column '{table.CellColumn}' (recognised by its values), {table.Rows.Count:N0} cells");
            about.Append(table.Missing == 0 ? " (all 15,625)" : string.Create(Invariant, $"; {table.Missing:N0} of the 15,625 are missing: querying one is a failed query (not-in-table) that counts against the budget"));
            about.Append(Invariant, $"; cost axis: parameter count at {spec.Channels}x{spec.Resolution}x{spec.Resolution}, {spec.Classes} classes ({source}).\n");
        }

        var command = string.Create(Invariant,
            $"`fairnad bench nb201 --table {string.Join(" ", paths.Select(Path.GetFileName))} --query-column '{queryColumn}' --report-column '{reportColumn}'{(input is null ? string.Empty : $" --input {input}")} --seeds {settings.Seeds} --budgets {string.Join(" ", settings.Budgets)} --out DIR`");
        var header = $"Tables (--table), query column '{queryColumn}', report column '{reportColumn}':\n\n{about}\n";
        return Nb201Run(settings with { Datasets = [.. tables.Select(t => t.Name)], QueryColumn = queryColumn, ReportColumn = reportColumn }, name => evaluators[name], header, command, outDirectory, output, log);
    }

    private static int Nb201Run(FairNad.Search.Nb201BenchmarkSettings settings, Func<string, FairNad.Search.Nb201TableEvaluator>? tables, string header, string regenerate,
        string? outDirectory, TextWriter output, TextWriter log)
    {
        if (outDirectory is not null)
        {
            InputChecks.NotAFile(outDirectory, "--out", "a folder for benchmark.md, anytime.csv and the plots");
        }

        if (settings.Seeds < 1 || settings.Budgets.Count == 0 || settings.Budgets.Any(b => b < 1))
        {
            throw new UsageException("--seeds and every --budgets value must be at least 1");
        }

        if (!FairNad.Search.FairNadOptions.KnownRules.Contains(settings.Rules))
        {
            throw new UsageException($"--rules {settings.Rules}: known search rules are {string.Join(", ", FairNad.Search.FairNadOptions.KnownRules)}");
        }

        foreach (var strategy in settings.Strategies.Where(x => !FairNad.Search.Nb201Benchmark.AllStrategies.Contains(x)))
        {
            throw new UsageException($"unknown strategy '{strategy}'; known: {string.Join(", ", FairNad.Search.Nb201Benchmark.AllStrategies)}");
        }

        var watch = Stopwatch.StartNew();
        var result = FairNad.Search.Nb201Benchmark.Run(settings, tables);
        var seconds = watch.Elapsed.TotalSeconds;
        var markdown = header + FairNad.Search.Nb201Benchmark.Markdown(result);
        output.Write(markdown);
        log.WriteLine(string.Create(Invariant, $"{settings.Datasets.Count} dataset(s) x {settings.Strategies.Count} strategies x {settings.Seeds} seeds x {settings.Budgets.Max()} queries in {seconds:F1} s on {Environment.ProcessorCount} core(s)"));
        if (outDirectory is not null)
        {
            Directory.CreateDirectory(outDirectory);
            File.WriteAllText(Path.Combine(outDirectory, "benchmark.md"), $"# NAS-Bench-201 strategy benchmark\n\nRegenerate: {regenerate}.\n\n" + markdown +
                "\n" + string.Concat(settings.Datasets.Select(d => $"![anytime {d}](anytime-{d}.png)\n")));
            File.WriteAllText(Path.Combine(outDirectory, "anytime.csv"), FairNad.Search.Nb201Benchmark.AnytimeCsv(result));
            var plots = FairNad.Reports.RunPlots.Anytime(result, outDirectory);
            log.WriteLine($"wrote {Path.Combine(outDirectory, "benchmark.md")}, anytime.csv and {string.Join(", ", plots.Select(Path.GetFileName))}");
        }

        return 0;
    }
}
