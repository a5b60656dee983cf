using System.CommandLine;
using FairNad.Architecture;
using FairNad.Evaluation;
using FairNad.Evaluation.Compilation;
using FairNad.Evaluation.Isolation;

namespace FairNad.Cli;

/// <summary>
/// LLM-written operators in worker processes. A spec that uses them (<c>custom</c> nodes) finds their sources in
/// <c>operators/&lt;hex&gt;.cs</c> beside the spec file: the harness copies them there from the run's store.
/// </summary>
public static class OperatorCommands
{
    /// <summary>Loads (compiles through the sandbox) the operators <paramref name="spec"/> uses, from beside <paramref name="specPath"/>.</summary>
    public static void LoadBeside(string specPath, ArchitectureSpec spec)
    {
        if (OperatorSources.References(spec).Count > 0)
        {
            CustomOperators.LoadFor(spec, new OperatorStore(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(specPath))!, OperatorSources.Folder)));
        }
    }

    /// <summary>
    /// `fairnad operators verify SPEC --out REPORT`: structural verification (<see cref="OperatorVerifier"/>) of a spec
    /// and the operators beside it, in this process, which the harness starts as a worker with a time and memory limit.
    /// Writes the report atomically; exit 0 when it passed, 1 when it found problems.
    /// </summary>
    public static Command Command(TextWriter output)
    {
        var spec = new Argument<string>("spec") { Description = "A spec file; the sources of its custom operators are in operators/<hex>.cs beside it." };
        var outPath = new Option<string>("--out") { Description = "Where to write the verification report (JSON).", Required = true };
        var seed = new Option<long>("--seed") { Description = "Seed of the weights and inputs of the check.", DefaultValueFactory = _ => 0 };
        var verify = new Command("verify", "(internal) Compile the LLM-written operators a spec uses through the sandbox and check them: forward and backward on the spec's input shape, output shape, finiteness, gradients, parameters.")
        {
            spec, outPath, seed,
        };
        verify.SetAction(r =>
        {
            var path = r.GetValue(spec)!;
            var architecture = SpecJson.Read(InputChecks.ReadText(path, "spec", "a spec file"), path);
            var store = new OperatorStore(Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, OperatorSources.Folder));
            var sources = OperatorSources.References(architecture).Where(store.Contains).ToDictionary(x => x, store.Get, StringComparer.Ordinal);
            TorchRuntime.Configure(1, r.GetValue(seed));
            var report = OperatorVerifier.Verify(architecture, sources, r.GetValue(seed));
            var target = r.GetValue(outPath)!;
            File.WriteAllText(target + ".tmp", report.ToJson());
            File.Move(target + ".tmp", target, overwrite: true);
            output.WriteLine(report.Passed ? "verified" : string.Join("\n", report.Problems));
            return report.Passed ? 0 : 1;
        });
        var operators = new Command("operators", "LLM-written operators: verification, and the archive of each run (list, show, promote).") { verify };
        foreach (var command in OperatorArchiveCommands.Commands(output))
        {
            operators.Subcommands.Add(command);
        }

        return operators;
    }
}
