using System.Reflection;

namespace FairNad.Build.Engine;

/// <summary>A target with its definition resolved to other targets.</summary>
internal sealed class ExecutableTarget(string name, TargetDefinition definition, int order)
{
    public string Name { get; } = name;

    public TargetDefinition Definition { get; } = definition;

    /// <summary>Declaration order: ties in the execution order are broken by it, so plans are stable.</summary>
    public int Order { get; } = order;

    public List<ExecutableTarget> Dependencies { get; } = [];

    /// <summary>Targets this one must run after when both are scheduled (After/Before).</summary>
    public List<ExecutableTarget> OrderedAfter { get; } = [];

    public List<ExecutableTarget> Triggers { get; } = [];

    public List<ExecutableTarget> TriggeredBy { get; } = [];

    public ExecutionStatus Status { get; set; } = ExecutionStatus.NotRun;

    public string? SkipReason { get; set; }

    public TimeSpan Duration { get; set; }

    public string? FailureMessage { get; set; }

    public override string ToString() => Name;
}

/// <summary>The targets of a build, their relations, and the execution plan for a set of invoked targets.</summary>
internal sealed class TargetGraph
{
    private TargetGraph(List<ExecutableTarget> targets) => Targets = targets;

    public List<ExecutableTarget> Targets { get; }

    public static TargetGraph Create(NukeBuild build)
    {
        const BindingFlags flags = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;
        var properties = new List<PropertyInfo>();
        for (var type = build.GetType(); type is not null && type != typeof(object); type = type.BaseType)
        {
            properties.AddRange(type.GetProperties(flags | BindingFlags.DeclaredOnly).Where(p => p.PropertyType == typeof(Target))
                .OrderBy(p => p.MetadataToken));
        }

        // Delegates from the same lambda on the same build compare equal, which is how DependsOn(Compile) finds Compile.
        var byDelegate = new Dictionary<Delegate, ExecutableTarget>();
        var targets = new List<ExecutableTarget>();
        foreach (var property in properties)
        {
            var factory = (Target)property.GetValue(build)!;
            var definition = new TargetDefinition();
            factory(definition);
            var target = new ExecutableTarget(property.Name, definition, targets.Count);
            targets.Add(target);
            byDelegate[factory] = target;
        }

        ExecutableTarget Find(ExecutableTarget from, Target reference) =>
            byDelegate.TryGetValue(reference, out var found)
                ? found
                : throw new BuildException($"target {from.Name} refers to a target that is not a property of {build.GetType().Name}");

        foreach (var target in targets)
        {
            var d = target.Definition;
            target.Dependencies.AddRange(d.DependsOnTargets.Select(t => Find(target, t)));
            foreach (var dependent in d.DependentForTargets.Select(t => Find(target, t)))
            {
                dependent.Dependencies.Add(target);
            }

            target.OrderedAfter.AddRange(d.AfterTargets.Select(t => Find(target, t)));
            foreach (var later in d.BeforeTargets.Select(t => Find(target, t)))
            {
                later.OrderedAfter.Add(target);
            }

            foreach (var triggered in d.TriggersTargets.Select(t => Find(target, t)))
            {
                target.Triggers.Add(triggered);
                triggered.TriggeredBy.Add(target);
            }

            foreach (var trigger in d.TriggeredByTargets.Select(t => Find(target, t)))
            {
                trigger.Triggers.Add(target);
                target.TriggeredBy.Add(trigger);
            }
        }

        var graph = new TargetGraph(targets);
        graph.RejectCycles();
        return graph;
    }

    public ExecutableTarget Get(string name) =>
        Targets.FirstOrDefault(t => CommandLine.Normalize(t.Name) == CommandLine.Normalize(name))
        ?? throw new BuildException($"unknown target '{name}'. Valid targets: {string.Join(", ", Targets.Select(t => t.Name))}");

    /// <summary>Everything that must run before <paramref name="target"/> when both are scheduled.</summary>
    private static IEnumerable<ExecutableTarget> Predecessors(ExecutableTarget target) =>
        target.Dependencies.Concat(target.OrderedAfter).Concat(target.TriggeredBy);

    private void RejectCycles()
    {
        var state = new Dictionary<ExecutableTarget, int>();
        var stack = new List<ExecutableTarget>();

        void Visit(ExecutableTarget target)
        {
            state[target] = 1;
            stack.Add(target);
            foreach (var before in Predecessors(target))
            {
                if (state.GetValueOrDefault(before) == 1)
                {
                    var cycle = stack.Skip(stack.IndexOf(before)).Append(before).Reverse().Select(t => t.Name);
                    throw new BuildException($"circular dependency between targets: {string.Join(" -> ", cycle)}");
                }

                if (state.GetValueOrDefault(before) == 0)
                {
                    Visit(before);
                }
            }

            stack.RemoveAt(stack.Count - 1);
            state[target] = 2;
        }

        foreach (var target in Targets.Where(t => state.GetValueOrDefault(t) == 0))
        {
            Visit(target);
        }
    }

    /// <summary>
    /// The targets to run for <paramref name="invoked"/>, in order: the invoked targets, their dependencies and what they
    /// trigger, each after everything it depends on or is ordered after.
    /// </summary>
    public List<ExecutableTarget> Plan(IReadOnlyList<ExecutableTarget> invoked)
    {
        var scheduled = new HashSet<ExecutableTarget>();
        var queue = new Queue<ExecutableTarget>(invoked);
        while (queue.Count > 0)
        {
            var target = queue.Dequeue();
            if (!scheduled.Add(target))
            {
                continue;
            }

            foreach (var next in target.Dependencies.Concat(target.Triggers))
            {
                queue.Enqueue(next);
            }
        }

        var plan = new List<ExecutableTarget>();
        var visited = new HashSet<ExecutableTarget>();

        void Visit(ExecutableTarget target)
        {
            if (!visited.Add(target))
            {
                return;
            }

            foreach (var before in Predecessors(target).Where(scheduled.Contains))
            {
                Visit(before);
            }

            plan.Add(target);
        }

        foreach (var target in invoked.Concat(scheduled.OrderBy(t => t.Order)))
        {
            Visit(target);
        }

        return plan;
    }

    /// <summary>Applies --skip and static conditions; dependencies needed only by skipped targets are skipped with them.</summary>
    public static void MarkSkipped(List<ExecutableTarget> plan, IReadOnlyList<ExecutableTarget> invoked, IReadOnlyList<ExecutableTarget>? skip)
    {
        foreach (var target in plan)
        {
            target.Status = ExecutionStatus.Scheduled;
            target.SkipReason = null;
            if (skip is not null && (skip.Count == 0 ? !invoked.Contains(target) : skip.Contains(target)))
            {
                target.Status = ExecutionStatus.Skipped;
                target.SkipReason = "--skip";
                continue;
            }

            var failed = target.Definition.StaticConditions.FirstOrDefault(c => !c.Compile()());
            if (failed is not null)
            {
                target.Status = ExecutionStatus.Skipped;
                target.SkipReason = $"condition false: {ExpressionText.Of(failed)}";
            }
        }

        // Keep only what a target that still runs needs; a statically skipped target drags its private dependencies along.
        var needed = new HashSet<ExecutableTarget>();
        var queue = new Queue<ExecutableTarget>(invoked.Where(t => t.Status != ExecutionStatus.Skipped || t.SkipReason == "--skip"));
        while (queue.Count > 0)
        {
            var target = queue.Dequeue();
            if (!needed.Add(target))
            {
                continue;
            }

            if (target.Status == ExecutionStatus.Skipped && target.SkipReason != "--skip")
            {
                continue;
            }

            foreach (var next in target.Dependencies.Concat(target.Triggers).Where(plan.Contains))
            {
                queue.Enqueue(next);
            }
        }

        foreach (var target in plan.Where(t => t.Status == ExecutionStatus.Scheduled && !needed.Contains(t)))
        {
            target.Status = ExecutionStatus.Skipped;
            target.SkipReason = "only needed by skipped targets";
        }
    }
}
