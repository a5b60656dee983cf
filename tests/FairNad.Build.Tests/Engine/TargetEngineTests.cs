using FairNad.Build.Engine;

namespace FairNad.Build.Tests.Engine;

public sealed class TargetEngineTests
{
    /// <summary>A build shaped like the real one, recording which targets ran.</summary>
    private sealed class SampleBuild : NukeBuild
    {
        public List<string> Ran { get; } = [];

        public bool PackEnabled { get; set; } = true;

        public bool CompileShouldFail { get; set; }

        public bool DeployRuns { get; set; } = true;

        [Parameter("A required value.")]
        public string? Dataset;

        Target Clean => _ => _.Description("Cleans.").Before(Restore).Executes(() => Ran.Add("Clean"));

        Target Restore => _ => _.Description("Restores.").Executes(() => Ran.Add("Restore"));

        Target Compile => _ => _.Description("Compiles.").DependsOn(Restore).Executes(() =>
        {
            Ran.Add("Compile");
            if (CompileShouldFail)
            {
                throw new InvalidOperationException("compiler exploded");
            }
        });

        Target Test => _ => _.DependsOn(Compile).Triggers(Report).Executes(() => Ran.Add("Test"));

        Target Report => _ => _.After(Pack).Executes(() => Ran.Add("Report"));

        Target Pack => _ => _.DependsOn(Compile, Generate).OnlyWhenStatic(() => PackEnabled).Executes(() => Ran.Add("Pack"));

        Target Generate => _ => _.Executes(() => Ran.Add("Generate"));

        Target Deploy => _ => _.DependsOn(Compile).OnlyWhenDynamic(() => DeployRuns).Executes(() => Ran.Add("Deploy"));

        Target Cleanup => _ => _.After(Compile).AssuredAfterFailure().Executes(() => Ran.Add("Cleanup"));

        Target Search => _ => _.DependsOn(Compile).Requires(() => Dataset).Executes(() => Ran.Add("Search"));

        Target Both => _ => _.DependsOn(Compile, Cleanup).Executes(() => Ran.Add("Both"));

        Target Count => _ => _.Executes(() => ReportClosingLine("3 passed, 0 failed, 0 skipped"));
    }

    private sealed class CyclicBuild : NukeBuild
    {
        Target A => _ => _.DependsOn(C).Executes(() => { });

        Target B => _ => _.DependsOn(A).Executes(() => { });

        Target C => _ => _.After(B).Executes(() => { });

        Target Compile => _ => _.Executes(() => { });
    }

    [Fact]
    public void Execute_DependsOn_RunsDependenciesFirst()
    {
        using var run = new BuildRun();
        var build = new SampleBuild();

        var exit = run.Execute(build, "Test");

        Assert.Equal(0, exit);
        Assert.Equal(["Restore", "Compile", "Test", "Report"], build.Ran);
    }

    [Fact]
    public void Execute_NoTargetNamed_RunsDefaultTarget()
    {
        using var run = new BuildRun();
        var build = new SampleBuild();

        Assert.Equal(0, run.Execute(build));
        Assert.Equal(["Restore", "Compile"], build.Ran);
    }

    [Fact]
    public void Execute_BeforeAndAfter_OrderOnlyWhenBothScheduled()
    {
        using var run = new BuildRun();
        var build = new SampleBuild();

        run.Execute(build, "Compile", "Clean");
        Assert.Equal(["Clean", "Restore", "Compile"], build.Ran);

        var alone = new SampleBuild();
        run.Execute(alone, "Report");
        Assert.Equal(["Report"], alone.Ran);
    }

    [Fact]
    public void Execute_TriggeredTargetAndOrderedAfter_RunsAfterBoth()
    {
        using var run = new BuildRun();
        var build = new SampleBuild();

        run.Execute(build, "Test", "Pack");

        Assert.True(build.Ran.IndexOf("Report") > build.Ran.IndexOf("Pack"), string.Join(",", build.Ran));
        Assert.True(build.Ran.IndexOf("Report") > build.Ran.IndexOf("Test"), string.Join(",", build.Ran));
    }

    [Fact]
    public void Execute_Cycle_FailsNamingTheCycle()
    {
        using var run = new BuildRun();

        var exit = run.Execute(new CyclicBuild(), "A");

        Assert.NotEqual(0, exit);
        Assert.Contains("circular dependency between targets: ", run.Error.ToString());
        Assert.Contains("A -> B -> C -> A", run.Error.ToString().Replace("C -> A -> B -> C", "A -> B -> C -> A"));
    }

    [Fact]
    public void Execute_SkipNamedTarget_SkipsOnlyThatTarget()
    {
        using var run = new BuildRun();
        var build = new SampleBuild();

        var exit = run.Execute(build, "Compile", "--skip", "Restore");

        Assert.Equal(0, exit);
        Assert.Equal(["Compile"], build.Ran);
        Assert.Matches(@"Restore\s+Skipped", run.Output.ToString());
    }

    [Fact]
    public void Execute_SkipWithoutNames_RunsOnlyInvokedTargets()
    {
        using var run = new BuildRun();
        var build = new SampleBuild();

        run.Execute(build, "Test", "--skip");

        Assert.Equal(["Test"], build.Ran);
    }

    [Fact]
    public void Execute_StaticConditionFalse_SkipsTargetAndItsPrivateDependencies()
    {
        using var run = new BuildRun();
        var build = new SampleBuild { PackEnabled = false };

        var exit = run.Execute(build, "Pack", "Test");

        Assert.Equal(0, exit);
        Assert.DoesNotContain("Pack", build.Ran);
        Assert.DoesNotContain("Generate", build.Ran);
        Assert.Contains("Compile", build.Ran); // still needed by Test
        Assert.Contains("condition false: PackEnabled", run.Output.ToString());
    }

    [Fact]
    public void Execute_DynamicConditionFalse_SkipsTargetAfterDependenciesRan()
    {
        using var run = new BuildRun();
        var build = new SampleBuild { DeployRuns = false };

        var exit = run.Execute(build, "Deploy");

        Assert.Equal(0, exit);
        Assert.Equal(["Restore", "Compile"], build.Ran);
        Assert.Matches(@"Deploy\s+Skipped", run.Output.ToString());
    }

    [Fact]
    public void Execute_TargetThrows_FailsAndLaterTargetsNotRunExceptAssured()
    {
        using var run = new BuildRun();
        var build = new SampleBuild { CompileShouldFail = true };

        var exit = run.Execute(build, "Both");

        Assert.Equal(1, exit);
        Assert.Equal(["Restore", "Compile", "Cleanup"], build.Ran);
        var output = run.Output.ToString();
        Assert.Matches(@"Compile\s+Failed", output);
        Assert.Matches(@"Both\s+NotRun", output);
        Assert.Matches(@"Restore\s+Succeeded", output);
        Assert.Contains("compiler exploded", run.Error.ToString());
    }

    [Fact]
    public void Execute_RequiredParameterMissing_FailsBeforeAnyTargetRuns()
    {
        using var run = new BuildRun();
        var build = new SampleBuild();

        var exit = run.Execute(build, "Search");

        Assert.NotEqual(0, exit);
        Assert.Empty(build.Ran);
        Assert.Contains("target Search requires parameter 'Dataset' (--dataset)", run.Error.ToString());
    }

    [Fact]
    public void Execute_RequiredParameterGiven_Runs()
    {
        using var run = new BuildRun();
        var build = new SampleBuild();

        Assert.Equal(0, run.Execute(build, "Search", "--dataset", "cifar100"));
        Assert.Equal("cifar100", build.Dataset);
        Assert.Contains("Search", build.Ran);
    }

    [Fact]
    public void Execute_UnknownTarget_FailsListingValidTargets()
    {
        using var run = new BuildRun();

        var exit = run.Execute(new SampleBuild(), "NoSuchTarget");

        Assert.Equal(2, exit);
        Assert.Contains("unknown target 'NoSuchTarget'. Valid targets: Clean, Restore, Compile, Test", run.Error.ToString());
    }

    [Fact]
    public void Execute_TargetNameInOtherCase_IsFound()
    {
        using var run = new BuildRun();
        var build = new SampleBuild();

        Assert.Equal(0, run.Execute(build, "compile"));
        Assert.Equal(["Restore", "Compile"], build.Ran);
    }

    [Fact]
    public void Plan_PrintsOrderWithoutRunning()
    {
        using var run = new BuildRun();
        var build = new SampleBuild();

        var exit = run.Execute(build, "--plan", "Test");

        Assert.Equal(0, exit);
        Assert.Empty(build.Ran);
        Assert.Contains("1. Restore\n  2. Compile\n  3. Test  [invoked]\n  4. Report", run.Output.ToString().ReplaceLineEndings("\n"));
    }

    [Fact]
    public void Help_ListsTargetsDependenciesAndParameters()
    {
        using var run = new BuildRun();

        var exit = run.Execute(new SampleBuild(), "--help");

        var output = run.Output.ToString();
        Assert.Equal(0, exit);
        Assert.Contains("Compile (default)", output);
        Assert.Contains("Compiles. -> Restore", output);
        Assert.Contains("--dataset <string>", output);
        Assert.Contains("A required value. Current: (not set) (default).", output);
    }

    [Fact]
    public void Execute_Succeeds_PrintsSummaryTable()
    {
        using var run = new BuildRun();

        run.Execute(new SampleBuild(), "Compile");

        var output = run.Output.ToString();
        Assert.Matches(@"Target\s+Status\s+Duration", output);
        Assert.Matches(@"Compile\s+Succeeded\s+\d+:\d\d\.\d", output);
        Assert.Contains("Build succeeded.", output);
    }

    [Fact]
    public void Execute_Always_WritesSchemaWithParametersAndTargets()
    {
        using var run = new BuildRun();

        run.Execute(new SampleBuild(), "--plan");

        var schema = File.ReadAllText(run.Root / ".nuke" / "build.schema.json");
        Assert.Contains("\"Dataset\"", schema);
        Assert.Contains("\"A required value.\"", schema);
        Assert.Contains("\"Search\"", schema);
    }

    [Fact]
    public void Execute_TargetReportsClosingLine_PrintedLastAfterSummary()
    {
        using var run = new BuildRun();

        run.Execute(new SampleBuild(), "Count");

        var lines = run.Output.ToString().ReplaceLineEndings("\n").TrimEnd().Split('\n');
        Assert.Equal("3 passed, 0 failed, 0 skipped", lines[^1]);
        Assert.Equal("Build succeeded.", lines[^2]);
    }
}
