using System.Diagnostics;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using FairNad.Architecture;
using FairNad.Architecture.Models;
using FairNad.Tests.Shared;

namespace FairNad.Lineage.Tests;

/// <summary>A candidate's commit as a project of its own (lineage layout 2): its files, their determinism, and that it builds and checks.</summary>
public sealed class CandidateProjectTests : IDisposable
{
    private readonly TempRepositories _repos = new();

    public void Dispose() => _repos.Dispose();

    /// <summary>The seed architecture on a tiny input with the ghost operator added on a residual branch.</summary>
    private static (ArchitectureSpec Spec, IReadOnlyDictionary<string, string> Operators) WithOperator()
    {
        var reference = OperatorSources.Hash(WrittenOperators.Ghost);
        var seed = ReferenceArchitectures.Get("resnet", new InputSpec(1, 12, 5));
        var output = seed.Block.Output;
        var spec = seed with
        {
            Block = new BlockSpec([.. seed.Block.Nodes, new NodeSpec("ghost", "custom", output).With("source", reference), new NodeSpec("ghost_sum", "add", "ghost", output)], "ghost_sum"),
        };
        return (spec, new Dictionary<string, string>(StringComparer.Ordinal) { [reference] = WrittenOperators.Ghost });
    }

    private static CandidateEntry Entry() => WithOperator() is var (spec, operators)
        ? new CandidateEntry(0, spec, [], "seed", null, null, "ResNet with a ghost branch") { Operators = operators }
        : throw new InvalidOperationException();

    private static Dictionary<string, string> Files(CommitContent content) => content.Files.ToDictionary(f => f.Key, f => f.Value, StringComparer.Ordinal);

    [Fact]
    public void CandidateCommit_SameCandidateTwice_SameProjectFilesAndId()
    {
        var entry = Entry();

        var first = LineageStore.CandidateCommit("demo", entry, NetworkPlanner.Plan(entry.Spec), 42, "experiments/quickstart.json");
        var second = LineageStore.CandidateCommit("demo", Entry(), NetworkPlanner.Plan(Entry().Spec), 42, "experiments/quickstart.json");

        Assert.Equal(first.Files, second.Files);
        Assert.Equal(first.ObjectId(["0123456789012345678901234567890123456789"]), second.ObjectId(["0123456789012345678901234567890123456789"]));
        Assert.Equal(
            [
                CandidateProject.ProjectFile, CandidateProject.BuildPropsFile, LineageLayout.CodeFile, CandidateProject.ProgramFile, LineageLayout.ReadmeFile,
                CandidateProject.RegistryFile, LineageLayout.SpecFile, CandidateProject.NativeFixFile, CandidateProject.NativeTargetsFile, CandidateProject.CheckFile,
                CandidateProject.HarnessFile, CandidateProject.LayersFile,
                $"operators/{OperatorSources.FileName(OperatorSources.Hash(WrittenOperators.Ghost))}",
            ],
            first.Files.Select(f => f.Key).Order(StringComparer.Ordinal));
        Assert.All(first.Files, f => Assert.DoesNotContain('\r', f.Value));
    }

    [Fact]
    public void CandidateCommit_Layout1_HoldsOnlySpecCodeReadmeAndOperators()
    {
        var entry = Entry();

        var files = Files(LineageStore.CandidateCommit("demo", entry, NetworkPlanner.Plan(entry.Spec), 42, "experiments/quickstart.json", format: 1));

        Assert.Equal(4, files.Count);
        Assert.DoesNotContain(CandidateProject.ProjectFile, files.Keys);
        Assert.DoesNotContain("dotnet run", files[LineageLayout.ReadmeFile], StringComparison.Ordinal);
    }

    [Fact]
    public void ProjectFile_PackageVersions_SameAsDirectoryPackagesProps()
    {
        var entry = Entry();
        var files = Files(LineageStore.CandidateCommit("demo", entry, NetworkPlanner.Plan(entry.Spec), 42, "experiments/quickstart.json"));
        var props = XDocument.Load(Path.Combine(RepositoryRoot(), "Directory.Packages.props"));
        var properties = props.Descendants("PropertyGroup").Elements().ToDictionary(e => e.Name.LocalName, e => e.Value);
        string Central(string package) => Regex.Replace(
            props.Descendants("PackageVersion").Single(p => (string?)p.Attribute("Include") == package).Attribute("Version")!.Value,
            @"\$\((\w+)\)", m => properties[m.Groups[1].Value]);

        var project = XDocument.Parse(files[CandidateProject.ProjectFile]);
        var pinned = project.Descendants("PackageReference").ToDictionary(p => p.Attribute("Include")!.Value, p => p.Attribute("Version")!.Value);

        Assert.Equal(new Dictionary<string, string>
        {
            ["TorchSharp"] = Central("TorchSharp"),
            [CandidateProject.LibTorchPackage] = Central(CandidateProject.LibTorchPackage),
        }, pinned);
        Assert.Contains($"TorchSharp {Central("TorchSharp")}", files[LineageLayout.ReadmeFile], StringComparison.Ordinal);
    }

    [Fact]
    public void LayersFile_Copy_SameAsTheHarnessLayerLibrary()
    {
        var entry = Entry();
        var files = Files(LineageStore.CandidateCommit("demo", entry, NetworkPlanner.Plan(entry.Spec), 42, "experiments/quickstart.json"));

        var harness = File.ReadAllText(Path.Combine(RepositoryRoot(), "src", "FairNad.Evaluation", "Modules", "Layers.cs")).Replace("\r\n", "\n", StringComparison.Ordinal);

        Assert.Equal(harness, files[CandidateProject.LayersFile]);
    }

    [Fact]
    public void CheckFile_Candidate_RecordsIdAndAnalyticCounts()
    {
        var entry = Entry();
        var plan = NetworkPlanner.Plan(entry.Spec);
        var files = Files(LineageStore.CandidateCommit("demo", entry, plan, 42, "experiments/quickstart.json"));

        using var check = System.Text.Json.JsonDocument.Parse(files[CandidateProject.CheckFile]);

        Assert.Equal(plan.CandidateId, check.RootElement.GetProperty("candidate").GetString());
        Assert.Equal(plan.Analysis.Parameters, check.RootElement.GetProperty("parameters").GetInt64());
        Assert.Equal(plan.Analysis.Macs, check.RootElement.GetProperty("macs").GetInt64());
        Assert.Contains($"new global::{TorchSharpCodeWriter.NetworkTypeName(plan.CandidateId)}()", files[CandidateProject.RegistryFile], StringComparison.Ordinal);
        Assert.Contains($"[\"{OperatorSources.Hash(WrittenOperators.Ghost)}\"] = (name, inChannels, outChannels, stride) => new global::GhostModule(", files[CandidateProject.RegistryFile], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("using TorchSharp;\npublic sealed class Ghost : nn.Module<Tensor, Tensor> { }\n", "Ghost")]
    [InlineData("namespace Written.Ops;\npublic class Mixer : TorchSharp.torch.nn.Module<Tensor, Tensor> { }\n", "Written.Ops.Mixer")]
    [InlineData("namespace A { public sealed class One : Module<Tensor, Tensor> { } }\n", "A.One")]
    [InlineData("public class Helper { }\npublic sealed class One : nn.Module<Tensor, Tensor> { }\npublic sealed class Two : nn.Module<Tensor, Tensor> { }\n", null)]
    [InlineData("public class Helper { }\n", null)]
    public void ModuleClass_Source_TheOneModuleClassOrNull(string source, string? expected)
    {
        Assert.Equal(expected, CandidateProject.ModuleClass(source));
    }

    [Fact]
    public void CreateRun_Layout1RunResumed_KeepsLayout1AndVerifies()
    {
        using var store = LineageStore.Open(_repos.PathFor("a"), create: true);
        var root = store.CreateRun(TempRepositories.Manifest() with { Format = 1 });

        var again = store.CreateRun(TempRepositories.Manifest());
        var stored = store.Add("demo", Entry());

        Assert.Equal(root, again);
        Assert.Contains("Lineage-Format: 1\n", store.Message(stored.Commit), StringComparison.Ordinal);
        Assert.Throws<LineageException>(() => store.ReadFile(stored.Commit, CandidateProject.ProjectFile));
        store.SetMetrics("demo", stored.CandidateId, new CandidateMetrics("ok", 50, 50));
        Assert.Empty(store.Verify("demo"));
    }

    [Fact]
    public void Verify_ProjectFileEdited_Finding()
    {
        var path = _repos.PathFor("a");
        using var store = LineageStore.Open(path, create: true);
        store.CreateRun(TempRepositories.Manifest());
        var stored = store.Add("demo", Entry());
        store.SetMetrics("demo", stored.CandidateId, new CandidateMetrics("ok", 50, 50));
        Assert.Empty(store.Verify("demo"));

        var worktree = _repos.PathFor("edit");
        TempRepositories.Git(path, null, "worktree", "add", worktree, stored.Branch);
        File.WriteAllText(Path.Combine(worktree, CandidateProject.CheckFile), "{\"candidate\": \"x\", \"parameters\": 1}\n");
        TempRepositories.Git(worktree, null, "commit", "-q", "-a", "--amend", "--no-edit");

        var findings = store.Verify("demo");
        Assert.True(findings.Any(f => f.Contains(CandidateProject.CheckFile, StringComparison.Ordinal)), string.Join("\n", findings));
    }

    /// <summary>
    /// The auditor's path end to end: record a candidate with an LLM-written operator, check its branch out into a fresh
    /// worktree, build it with the SDK alone and run the check: forward and backward on the recorded input shape, and the
    /// parameter count of the built network against the one check.json records.
    /// </summary>
    [Fact]
    [Trait("Category", "Slow")]
    public void CandidateBranch_FreshWorktree_BuildsAndChecks()
    {
        var path = _repos.PathFor("lineage.git");
        using var store = LineageStore.Open(path, create: true);
        store.CreateRun(TempRepositories.Manifest());
        var entry = Entry();
        var stored = store.Add("demo", entry);
        var recorded = NetworkPlanner.Plan(entry.Spec).Analysis.Parameters;
        var worktree = _repos.PathFor("candidate");
        TempRepositories.Git(path, null, "worktree", "add", "-q", worktree, stored.Branch);

        var build = Dotnet(worktree, "build", "-nologo", "-v", "q");
        var check = Dotnet(worktree, "run", "--no-build", "--", "check");

        Assert.True(build.ExitCode == 0, $"dotnet build failed:\n{build.Output}");
        Assert.True(check.ExitCode == 0, $"dotnet run -- check failed:\n{check.Output}");
        Assert.Contains($"candidate {stored.CandidateId}", check.Output, StringComparison.Ordinal);
        Assert.Contains("forward: [2, 1, 12, 12] -> [2, 5]", check.Output, StringComparison.Ordinal);
        var counted = Regex.Match(check.Output, @"parameters: (\d+) \(recorded (\d+)\)");
        Assert.True(counted.Success, check.Output);
        Assert.Equal(recorded, long.Parse(counted.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
        var built = long.Parse(counted.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(built == recorded || check.Output.Contains($"the record counts the {built - recorded} parameters of the LLM-written operators as 0", StringComparison.Ordinal), check.Output);
        Assert.Contains("check passed", check.Output, StringComparison.Ordinal);
    }

    private static (int ExitCode, string Output) Dotnet(string directory, params string[] arguments)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath is { } host && Path.GetFileNameWithoutExtension(host) == "dotnet" ? host : "dotnet")
        {
            WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        // The test host's MSBuild settings would point the nested build at the test run's own SDK state.
        foreach (var name in start.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) || k == "DOTNET_HOST_PATH").ToList())
        {
            start.Environment.Remove(name);
        }

        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(150)))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"timed out\n{output.Result}{error.Result}");
        }

        return (process.ExitCode, output.Result + error.Result);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Directory.Packages.props")) && Directory.Exists(Path.Combine(directory.FullName, "src")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no repository root above {AppContext.BaseDirectory}");
    }
}
