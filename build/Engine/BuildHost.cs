using System.Diagnostics;
using System.Globalization;
using System.Text;
using FairNad.Build.Engine.Tooling;

namespace FairNad.Build.Engine;

/// <summary>Parses the invocation, resolves parameters, plans and runs targets, and prints the summary.</summary>
public static class BuildHost
{
    /// <summary>The nearest directory at or above <paramref name="start"/> that holds a <c>.nuke</c> folder.</summary>
    public static AbsolutePath? FindRoot(string start)
    {
        for (var directory = new DirectoryInfo(start); directory is not null; directory = directory.Parent)
        {
            if (Directory.Exists(Path.Combine(directory.FullName, ".nuke")))
            {
                return AbsolutePath.Create(directory.FullName);
            }
        }

        return null;
    }

    /// <summary>Runs <paramref name="build"/> for <paramref name="args"/>; returns the process exit code (0 only on success).</summary>
    public static int Run(NukeBuild build, IReadOnlyList<string> args, BuildContext context, IReadOnlyList<string> defaultTargets)
    {
        try
        {
            return RunCore(build, args, context, defaultTargets);
        }
        catch (BuildException e)
        {
            context.Error.WriteLine($"error: {e.Message}");
            return 2;
        }
    }

    private static int RunCore(NukeBuild build, IReadOnlyList<string> args, BuildContext context, IReadOnlyList<string> defaultTargets)
    {
        build.RootDirectory = context.RootDirectory;
        var parameters = ParameterResolver.Discover(build.GetType());
        var flags = parameters.Where(p => (Nullable.GetUnderlyingType(p.Type) ?? p.Type) == typeof(bool))
            .Select(p => CommandLine.Normalize(p.Name)).Concat(["help", "h", "plan"]).ToHashSet();
        var commandLine = CommandLine.Parse(args, raw => flags.Contains(CommandLine.Normalize(raw)));
        ParameterResolver.Resolve(build, parameters, commandLine, context);
        var graph = TargetGraph.Create(build);
        SchemaWriter.Update(context.RootDirectory, parameters, graph);

        if (commandLine.Has("help") || commandLine.Has("h"))
        {
            WriteHelp(build, parameters, graph, defaultTargets, context.Output);
            return 0;
        }

        var names = commandLine.Targets.Concat(commandLine.Get("target") ?? []).ToList();
        var invoked = (names.Count > 0 ? names : defaultTargets).Select(graph.Get).Distinct().ToList();
        var skip = commandLine.Get("skip")?.Select(graph.Get).ToList();
        var plan = graph.Plan(invoked);
        TargetGraph.MarkSkipped(plan, invoked, skip);
        build.ExecutionPlan = plan.Where(t => t.Status == ExecutionStatus.Scheduled).Select(t => t.Name).ToList();

        if (commandLine.Has("plan"))
        {
            WritePlan(plan, invoked, context.Output);
            return 0;
        }

        var unmet = plan.Where(t => t.Status == ExecutionStatus.Scheduled)
            .SelectMany(t => t.Definition.Requirements.Where(r => !r.IsMet()).Select(r => (Target: t, Requirement: r)))
            .Select(x => x.Requirement.IsParameter
                ? $"target {x.Target.Name} requires parameter '{x.Requirement.Text}' (--{BuildParameter.KebabCase(x.Requirement.Text)})"
                : $"target {x.Target.Name} requires {x.Requirement.Text}")
            .ToList();
        if (unmet.Count > 0)
        {
            throw new BuildException(string.Join(Environment.NewLine + "error: ", unmet));
        }

        Execute(plan, context);
        WriteSummary(plan, context.Output);
        foreach (var line in build.ClosingLines)
        {
            context.Output.WriteLine(line);
        }

        context.Output.Flush();
        return plan.Any(t => t.Status == ExecutionStatus.Failed) ? 1 : 0;
    }

    private static void Execute(List<ExecutableTarget> plan, BuildContext context)
    {
        var failed = false;
        foreach (var target in plan)
        {
            if (target.Status == ExecutionStatus.Skipped)
            {
                continue;
            }

            if (failed && !target.Definition.IsAssuredAfterFailure)
            {
                target.Status = ExecutionStatus.NotRun;
                continue;
            }

            var falseCondition = target.Definition.DynamicConditions.FirstOrDefault(c => !c.Compile()());
            if (falseCondition is not null)
            {
                target.Status = ExecutionStatus.Skipped;
                target.SkipReason = $"condition false: {ExpressionText.Of(falseCondition)}";
                continue;
            }

            context.Output.WriteLine();
            context.Output.WriteLine($"═══ {target.Name} ═══");
            context.Output.Flush();
            target.Status = ExecutionStatus.Running;
            var stopwatch = Stopwatch.StartNew();
            try
            {
                foreach (var action in target.Definition.Actions)
                {
                    action().GetAwaiter().GetResult();
                }

                target.Status = ExecutionStatus.Succeeded;
            }
            catch (Exception e)
            {
                target.Status = ExecutionStatus.Failed;
                target.FailureMessage = e.Message;
                context.Error.WriteLine($"error: target {target.Name} failed: {e.Message}");
                if (e is not BuildException and not ToolException)
                {
                    context.Error.WriteLine(e.ToString());
                }

                failed |= !target.Definition.IsProceedAfterFailure;
            }

            target.Duration = stopwatch.Elapsed;
        }
    }

    private static void WriteHelp(
        NukeBuild build, List<BuildParameter> parameters, TargetGraph graph, IReadOnlyList<string> defaultTargets, TextWriter output)
    {
        output.WriteLine("Usage: ./build.sh [targets] [--parameter value ...]");
        output.WriteLine();
        output.WriteLine("Targets (dependencies after ->):");
        var listed = graph.Targets.Where(t => !t.Definition.IsUnlisted).ToList();
        var width = listed.Select(t => t.Name.Length + (defaultTargets.Contains(t.Name) ? 10 : 0)).DefaultIfEmpty(0).Max() + 2;
        foreach (var target in listed)
        {
            var name = target.Name + (defaultTargets.Contains(target.Name) ? " (default)" : string.Empty);
            var dependencies = target.Dependencies.Count > 0 ? $" -> {string.Join(", ", target.Dependencies.Select(d => d.Name))}" : string.Empty;
            var triggers = target.Triggers.Count > 0 ? $" (triggers {string.Join(", ", target.Triggers.Select(d => d.Name))})" : string.Empty;
            output.WriteLine($"  {name.PadRight(width)}{target.Definition.DescriptionText}{dependencies}{triggers}");
        }

        output.WriteLine();
        output.WriteLine("Parameters (command line > environment variable > .nuke/parameters[.<profile>].json > default):");
        var rows = parameters.Select(p => (
            Name: p.CommandLineName + " <" + ParameterResolver.Describe(p.Type) + ">",
            Text: $"{p.Description} Current: {ParameterResolver.Format(p.GetValue(build))} ({p.Source})."))
            .Concat(new (string Name, string Text)[] {
                ("--help", "Shows this help."),
                ("--plan", "Prints the execution order without running anything."),
                ("--skip [targets]", "Skips the named targets (all but the invoked ones when none are named)."),
                ("--target <targets>", "Targets to run (same as naming them first)."),
                ("--profile <names>", "Also reads .nuke/parameters.<name>.json, later profiles winning."),
            }).ToList();
        var parameterWidth = rows.Max(r => r.Name.Length) + 2;
        foreach (var (name, text) in rows)
        {
            output.WriteLine($"  {name.PadRight(parameterWidth)}{text}");
        }
    }

    private static void WritePlan(List<ExecutableTarget> plan, IReadOnlyList<ExecutableTarget> invoked, TextWriter output)
    {
        output.WriteLine("Execution plan:");
        var index = 0;
        foreach (var target in plan)
        {
            var marks = new List<string>();
            if (invoked.Contains(target))
            {
                marks.Add("invoked");
            }

            if (target.Status == ExecutionStatus.Skipped)
            {
                marks.Add($"skipped: {target.SkipReason}");
            }

            output.WriteLine($"  {++index}. {target.Name}{(marks.Count > 0 ? $"  [{string.Join("; ", marks)}]" : string.Empty)}");
        }
    }

    private static void WriteSummary(List<ExecutableTarget> plan, TextWriter output)
    {
        var nameWidth = Math.Max(6, plan.Max(t => t.Name.Length)) + 3;
        const int statusWidth = 12;
        var rule = new string('─', nameWidth + statusWidth + 10);
        var builder = new StringBuilder();
        builder.AppendLine();
        builder.AppendLine(rule.Replace('─', '═'));
        builder.AppendLine($"{"Target".PadRight(nameWidth)}{"Status".PadRight(statusWidth)}Duration");
        builder.AppendLine(rule);
        foreach (var target in plan)
        {
            var duration = target.Status is ExecutionStatus.Succeeded or ExecutionStatus.Failed ? FormatDuration(target.Duration) : string.Empty;
            var note = target.Status == ExecutionStatus.Skipped ? $"   // {target.SkipReason}"
                : target.Status == ExecutionStatus.Failed ? $"   // {FirstLine(target.FailureMessage)}" : string.Empty;
            builder.AppendLine($"{target.Name.PadRight(nameWidth)}{target.Status.ToString().PadRight(statusWidth)}{duration}{note}");
        }

        builder.AppendLine(rule);
        var total = plan.Aggregate(TimeSpan.Zero, (sum, t) => sum + t.Duration);
        builder.AppendLine($"{"Total".PadRight(nameWidth + statusWidth)}{FormatDuration(total)}");
        builder.AppendLine(rule.Replace('─', '═'));
        var failed = plan.Where(t => t.Status == ExecutionStatus.Failed).Select(t => t.Name).ToList();
        builder.AppendLine(failed.Count == 0 ? "Build succeeded." : $"Build failed: {string.Join(", ", failed)}.");
        output.Write(builder.ToString());
        output.Flush();
    }

    private static string FormatDuration(TimeSpan duration) =>
        ((int)duration.TotalMinutes).ToString(CultureInfo.InvariantCulture) + ":" +
        duration.Seconds.ToString("00", CultureInfo.InvariantCulture) + "." +
        (duration.Milliseconds / 100).ToString(CultureInfo.InvariantCulture);

    private static string FirstLine(string? text) => (text ?? string.Empty).Split('\n')[0].Trim();
}
