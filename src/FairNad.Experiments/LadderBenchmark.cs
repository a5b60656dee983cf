using System.Diagnostics;
using FairNad.Lineage;

namespace FairNad.Experiments;

/// <summary>What `fairnad bench ladder` compares: an experiment, the ladder, and how many candidates each arm searches.</summary>
/// <param name="DataDirectory">Where the dataset lives; null uses an empty folder, so Fashion-MNIST is the embedded subset.</param>
/// <param name="Candidates">Candidates per arm; null keeps the experiment's budget.</param>
/// <param name="EqualCpu">Also run a third arm: the ladder with as many candidates as the CPU time of the top-rung arm pays for, estimated from the ladder arm's CPU time per candidate.</param>
public sealed record LadderBenchmarkSettings(string ExperimentPath, string? Profile, Ladder Ladder, int? Candidates, string? DataDirectory, bool EqualCpu = true);

/// <summary>The best candidate so far, after <see cref="CpuSeconds"/> of CPU time.</summary>
public sealed record LadderCurvePoint(double CpuSeconds, int Evaluations, double? Test, int Rung);

/// <summary>One arm's figures: its evaluations, the CPU time they took, its best candidate, and the best-so-far curve.</summary>
public sealed record LadderArm(string Name, int Candidates, int Evaluations, double CpuSeconds, CandidateRecord? Best, IReadOnlyList<LadderCurvePoint> Curve)
{
    /// <summary>The CPU time after which the best-so-far candidate's test accuracy first reached <paramref name="accuracy"/>; null if it never did.</summary>
    public double? CpuSecondsToReach(double accuracy) => Curve.FirstOrDefault(p => p.Test >= accuracy)?.CpuSeconds;
}

/// <summary>
/// Accuracy per CPU-minute with and without a fidelity ladder, measured side by side in one process: the same experiment
/// (strategy, seed, candidates) searched once with every candidate trained at the ladder's top rung, and once with the
/// ladder (every candidate at rung 0, the top fraction promoted). Candidates train in this process, one at a time, so
/// this process's CPU time (<see cref="Process.TotalProcessorTime"/>) is what they cost; the LLM is off and noise
/// measurement is left out, so the two arms differ only in the ladder. A scratch results folder and lineage repository
/// are used and removed. A third arm (<see cref="LadderBenchmarkSettings.EqualCpu"/>) spends about the top-rung arm's CPU
/// time on the ladder, so the two can be compared at equal cost too.
/// </summary>
public static class LadderBenchmark
{
    public static async Task<IReadOnlyList<LadderArm>> RunAsync(LadderBenchmarkSettings settings, WorkerCommand worker, Action<string> log, CancellationToken cancel = default)
    {
        var experiment = ExperimentFile.Load(settings.ExperimentPath, settings.Profile);
        var common = experiment with
        {
            Candidates = settings.Candidates ?? experiment.Candidates,
            Seeds = [experiment.Seeds[0]],
            Llm = experiment.Llm with { Mode = "off" },
            Evaluation = experiment.Evaluation with { Jobs = 1, Isolated = false },
            Noise = null,
        };
        var laddered = ExperimentFile.Validated(common with { Ladder = settings.Ladder }, $"{settings.ExperimentPath} with the ladder");
        var top = ExperimentFile.Validated(common with { Ladder = null, Fidelity = laddered.FidelityAt(laddered.RungCount - 1) }, $"{settings.ExperimentPath} at the top rung");
        var scratch = Directory.CreateTempSubdirectory("fairnad-bench-ladder-").FullName;
        try
        {
            var repository = Path.Combine(scratch, "lineage.git");
            LineageStore.Open(repository, create: true).Dispose();
            // libtorch is loaded before either arm is timed, so neither pays for it.
            FairNad.Evaluation.TorchRuntime.EnsureLoaded();
            var arms = new List<LadderArm>();

            // Without a data folder, an empty one: Fashion-MNIST then comes from the embedded subset, as on a fresh clone.
            var data = settings.DataDirectory ?? Directory.CreateDirectory(Path.Combine(scratch, "no-data")).FullName;
            var plan = new List<(string Name, Experiment Arm)> { ("top rung", top), ("ladder", laddered) };
            for (var i = 0; i < plan.Count; i++)
            {
                var (name, arm) = plan[i];
                cancel.ThrowIfCancellationRequested();
                var path = Path.Combine(scratch, "experiments", $"{arm.Name}.json");
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                File.WriteAllText(path, arm.ToJson());
                var run = $"bench-{i}";
                log($"bench ladder: {name} arm, {arm.Candidates} candidates");
                var curve = new List<LadderCurvePoint>();
                var started = Process.GetCurrentProcess().TotalProcessorTime;
                double Cpu() => (Process.GetCurrentProcess().TotalProcessorTime - started).TotalSeconds;
                var request = new SearchRequest(path, new ExperimentOverrides(), Path.Combine(scratch, "results"), repository, data, run, null, worker);
                var outcome = (await SearchSession.RunAsync(request, line => { if (line.StartsWith("data ", StringComparison.Ordinal)) { log($"bench ladder: {line}"); } }, p => curve.Add(new LadderCurvePoint(Cpu(), curve.Count + 1, p.Best?.Test, p.Best?.Rung ?? 0)), cancel)
                    .ConfigureAwait(false)).Single();
                arms.Add(new LadderArm(name, outcome.Candidates.Count, outcome.AllEvaluations.Count, Cpu(), outcome.Best, curve));
                if (name == "ladder" && settings.EqualCpu)
                {
                    // The same search with the ladder, run longer: as many candidates as the top-rung arm's CPU time pays for.
                    var more = (int)Math.Round(arm.Candidates * arms[0].CpuSeconds / arms[1].CpuSeconds);
                    if (more > arm.Candidates)
                    {
                        plan.Add(("ladder, equal CPU", arm with { Candidates = more }));
                    }
                }
            }

            return arms;
        }
        finally
        {
            foreach (var file in Directory.EnumerateFiles(scratch, "*", SearchOption.AllDirectories))
            {
                File.SetAttributes(file, FileAttributes.Normal);
            }

            Directory.Delete(scratch, recursive: true);
        }
    }
}
