/*
 * A contract harness: parse monitor request bodies with OpenSearch Alerting's own model classes
 * (org.opensearch:common-utils, the code the Alerting plugin's REST layer parses with).
 *
 * Protocol: one monitor JSON object per line on stdin; stdout gets first a header line
 *   {"harness":"MonitorContract","opensearch":"2.19.6"}
 * then exactly one line per input line, in order:
 *   {"ok":true,"monitor":<the parsed Monitor written back with toXContent>,"deprecations":[...]}
 *   {"ok":false,"error":"<exception class>: <message>","causes":["<class>: <message>", ...],"deprecations":[...]}
 *
 * What it does per monitor is what RestIndexMonitorAction (POST _plugins/_alerting/monitors) does
 * before handing the monitor to the transport action:
 *   ensureExpectedToken(START_OBJECT, xcp.nextToken(), xcp)
 *   Monitor.parse(xcp, Monitor.NO_ID)
 *   for a standard monitor type: every trigger is of the monitor type's trigger class
 * The registry holds the core SearchModule's named XContent (queries, aggregations, ...) with the
 * Alerting plugin's pipeline aggregation (bucket_selector_ext) registered as the plugin does, plus the
 * Alerting model entries (inputs, triggers, monitor, workflow) the plugin adds in getNamedXContent().
 *
 * Not checked here (no node): painless compilation of trigger scripts, index permissions, the
 * transport layer's checks (e.g. the max monitor count), field mappings.
 *
 * A parse or validation failure is an answer (ok:false). A JVM Error (a missing class: the classpath
 * is wrong) ends the process with a non-zero exit, so that the caller fails loudly.
 */

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

import org.opensearch.Version;
import org.opensearch.common.settings.Settings;
import org.opensearch.common.xcontent.XContentFactory;
import org.opensearch.common.xcontent.json.JsonXContent;
import org.opensearch.commons.alerting.aggregation.bucketselectorext.BucketSelectorExtAggregationBuilder;
import org.opensearch.commons.alerting.model.BucketLevelTrigger;
import org.opensearch.commons.alerting.model.ChainedAlertTrigger;
import org.opensearch.commons.alerting.model.ClusterMetricsInput;
import org.opensearch.commons.alerting.model.CompositeInput;
import org.opensearch.commons.alerting.model.DocLevelMonitorInput;
import org.opensearch.commons.alerting.model.DocumentLevelTrigger;
import org.opensearch.commons.alerting.model.Monitor;
import org.opensearch.commons.alerting.model.NoOpTrigger;
import org.opensearch.commons.alerting.model.QueryLevelTrigger;
import org.opensearch.commons.alerting.model.SearchInput;
import org.opensearch.commons.alerting.model.Trigger;
import org.opensearch.commons.alerting.model.Workflow;
import org.opensearch.commons.alerting.model.remote.monitors.RemoteMonitorTrigger;
import org.opensearch.commons.alerting.util.IndexUtilsKt;
import org.opensearch.core.common.bytes.BytesReference;
import org.opensearch.core.xcontent.ContextParser;
import org.opensearch.core.xcontent.DeprecationHandler;
import org.opensearch.core.xcontent.NamedXContentRegistry;
import org.opensearch.core.xcontent.ToXContent;
import org.opensearch.core.xcontent.XContentBuilder;
import org.opensearch.core.xcontent.XContentLocation;
import org.opensearch.core.xcontent.XContentParser;
import org.opensearch.core.xcontent.XContentParserUtils;
import org.opensearch.plugins.SearchPlugin;
import org.opensearch.search.SearchModule;

public final class MonitorContract {

    /** The Alerting plugin's SearchPlugin part: its bucket_selector_ext pipeline aggregation. */
    static final class AlertingSearchPlugin implements SearchPlugin {
        @Override
        public List<PipelineAggregationSpec> getPipelineAggregations() {
            ContextParser<String, BucketSelectorExtAggregationBuilder> parser =
                (p, name) -> BucketSelectorExtAggregationBuilder.Companion.parse(name, p);
            return List.of(new PipelineAggregationSpec(BucketSelectorExtAggregationBuilder.Companion.getNAME(),
                BucketSelectorExtAggregationBuilder::new, parser));
        }
    }

    /** Records deprecation warnings (the node would log them and send them as Warning headers). */
    static final class Deprecations implements DeprecationHandler {
        final List<String> seen = new ArrayList<>();

        private static String at(Supplier<XContentLocation> location) {
            XContentLocation where = location == null ? null : location.get();
            return where == null ? "" : " at " + where;
        }

        @Override
        public void usedDeprecatedName(String parserName, Supplier<XContentLocation> location, String usedName, String modernName) {
            seen.add("[" + parserName + "] deprecated field [" + usedName + "], expected [" + modernName + "] instead" + at(location));
        }

        @Override
        public void usedDeprecatedField(String parserName, Supplier<XContentLocation> location, String usedName, String replacedWith) {
            seen.add("[" + parserName + "] deprecated field [" + usedName + "], replaced by [" + replacedWith + "]" + at(location));
        }

        @Override
        public void usedDeprecatedField(String parserName, Supplier<XContentLocation> location, String usedName) {
            seen.add("[" + parserName + "] deprecated field [" + usedName + "], which has been removed entirely" + at(location));
        }
    }

    static NamedXContentRegistry registry() {
        List<NamedXContentRegistry.Entry> entries = new ArrayList<>(
            new SearchModule(Settings.EMPTY, List.of(new AlertingSearchPlugin())).getNamedXContents());
        entries.add(Monitor.Companion.getXCONTENT_REGISTRY());
        entries.add(SearchInput.Companion.getXCONTENT_REGISTRY());
        entries.add(DocLevelMonitorInput.Companion.getXCONTENT_REGISTRY());
        entries.add(ClusterMetricsInput.Companion.getXCONTENT_REGISTRY());
        entries.add(CompositeInput.Companion.getXCONTENT_REGISTRY());
        entries.add(QueryLevelTrigger.Companion.getXCONTENT_REGISTRY());
        entries.add(BucketLevelTrigger.Companion.getXCONTENT_REGISTRY());
        entries.add(DocumentLevelTrigger.Companion.getXCONTENT_REGISTRY());
        entries.add(ChainedAlertTrigger.Companion.getXCONTENT_REGISTRY());
        entries.add(NoOpTrigger.Companion.getXCONTENT_REGISTRY());
        entries.add(RemoteMonitorTrigger.Companion.getXCONTENT_REGISTRY());
        entries.add(Workflow.Companion.getXCONTENT_REGISTRY());
        return new NamedXContentRegistry(entries);
    }

    /** RestIndexMonitorAction's checks after parsing: the triggers fit the monitor type. */
    static void checkTriggerTypes(Monitor monitor) {
        if (!IndexUtilsKt.isMonitorOfStandardType(monitor)) {
            return;
        }
        Monitor.MonitorType type = Monitor.MonitorType.valueOf(monitor.getMonitorType().toUpperCase(Locale.ROOT));
        Class<? extends Trigger> expected;
        String what;
        switch (type) {
            case QUERY_LEVEL_MONITOR: expected = QueryLevelTrigger.class; what = "query level monitor"; break;
            case BUCKET_LEVEL_MONITOR: expected = BucketLevelTrigger.class; what = "bucket level monitor"; break;
            case CLUSTER_METRICS_MONITOR: expected = QueryLevelTrigger.class; what = "cluster metrics monitor"; break;
            case DOC_LEVEL_MONITOR: expected = DocumentLevelTrigger.class; what = "document level monitor"; break;
            default: return;
        }
        for (Trigger trigger : monitor.getTriggers()) {
            if (!expected.isInstance(trigger)) {
                throw new IllegalArgumentException("Illegal trigger type, " + trigger.getClass().getName() + ", for " + what);
            }
        }
    }

    static String describe(Throwable t) {
        return t.getClass().getName() + ": " + t.getMessage();
    }

    static String answer(NamedXContentRegistry registry, String line) throws IOException {
        Deprecations deprecations = new Deprecations();
        XContentBuilder out = XContentFactory.jsonBuilder().startObject();
        try (XContentParser xcp = JsonXContent.jsonXContent.createParser(registry, deprecations, line)) {
            XContentParserUtils.ensureExpectedToken(XContentParser.Token.START_OBJECT, xcp.nextToken(), xcp);
            Monitor monitor = Monitor.parse(xcp, Monitor.NO_ID);
            checkTriggerTypes(monitor);
            out.field("ok", true);
            out.field("monitor");
            monitor.toXContent(out, ToXContent.EMPTY_PARAMS);
        } catch (Exception e) {
            out = XContentFactory.jsonBuilder().startObject();
            out.field("ok", false);
            out.field("error", describe(e));
            List<String> causes = new ArrayList<>();
            for (Throwable cause = e.getCause(); cause != null && cause != cause.getCause() && causes.size() < 10; cause = cause.getCause()) {
                causes.add(describe(cause));
            }
            out.field("causes", causes);
        }
        out.field("deprecations", deprecations.seen);
        out.endObject();
        return BytesReference.bytes(out).utf8ToString();
    }

    public static void main(String[] args) throws IOException {
        NamedXContentRegistry registry = registry();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        BufferedWriter stdout = new BufferedWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
        XContentBuilder header = XContentFactory.jsonBuilder().startObject()
            .field("harness", "MonitorContract").field("opensearch", Version.CURRENT.toString()).endObject();
        stdout.write(BytesReference.bytes(header).utf8ToString());
        stdout.write('\n');
        stdout.flush();
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            stdout.write(answer(registry, line));
            stdout.write('\n');
        }
        stdout.flush();
    }
}
